//! The example store (`examples/store`) as the targets read it: every file's bytes by its key.
//! Shared by the targets that serve it (`mod example_store;` beside them).

use std::collections::HashMap;
use std::path::Path;

/// Every file below `examples/store`, keyed as the store keys them (`devices/<mac>.json`). A
/// file that cannot be read stops the target: an emptier store would only make it test less.
pub fn load() -> HashMap<String, Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/store");
    let mut files = HashMap::new();
    let mut pending = vec![root.clone()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("examples/store") {
            let path = entry.expect("a store entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let key = path.strip_prefix(&root).expect("below the store");
                let bytes = std::fs::read(&path).expect("a store file");
                files.insert(key.to_string_lossy().into_owned(), bytes);
            }
        }
    }
    files
}
