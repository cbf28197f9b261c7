//! Files the commands write into a store folder: each written atomically, and variable layers
//! laid over what the store already holds.

use std::io::Write;
use std::path::Path;

use serde_json::{Map, Value};

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, flushed to disk,
/// then renamed over the old file, so a server reading the folder never sees half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let done = std::fs::File::create(&tmp)
        .and_then(|mut f| {
            f.write_all(bytes)?;
            f.sync_all()
        })
        .and_then(|()| std::fs::rename(&tmp, path));
    if done.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    done
}

/// A variable layer's new bytes: the JSON object the store holds at `key` (none without a store
/// or a file), with `vars` laid over it key by key; and how many stored keys were kept. A stored
/// file that is not a JSON object is an error: it is left as it is.
pub fn laid_over(
    store: Option<&Path>,
    key: &str,
    vars: &Map<String, Value>,
) -> Result<(Vec<u8>, usize), String> {
    let mut merged = match store.map(|s| std::fs::read(s.join(key))) {
        None => Map::new(),
        Some(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => Map::new(),
        Some(Err(e)) => return Err(format!("cannot be read: {}", e.kind())),
        Some(Ok(bytes)) => match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => map,
            _ => return Err("the stored file is not a JSON object; left as it is".into()),
        },
    };
    let kept = merged.keys().filter(|k| !vars.contains_key(*k)).count();
    merged.extend(vars.iter().map(|(k, v)| (k.clone(), v.clone())));
    let mut bytes = serde_json::to_vec_pretty(&Value::Object(merged))
        .map_err(|e| format!("cannot serialize: {e}"))?;
    bytes.push(b'\n');
    Ok((bytes, kept))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_layer_keeps_the_stored_keys_it_does_not_set() {
        let dir = std::env::temp_dir().join(format!("provedge-layer-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        write_atomic(&dir.join("vars/global.json"), br#"{"a": 1, "b": 2}"#).unwrap();
        let vars: Map<String, Value> = serde_json::from_str(r#"{"b": 3, "c": 4}"#).unwrap();
        let (bytes, kept) = laid_over(Some(&dir), "vars/global.json", &vars).unwrap();
        let merged: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(merged, serde_json::json!({"a": 1, "b": 3, "c": 4}));
        assert_eq!(kept, 1);
        let (_, kept) = laid_over(Some(&dir), "vars/absent.json", &vars).unwrap();
        assert_eq!(kept, 0);
        write_atomic(&dir.join("vars/list.json"), b"[1]").unwrap();
        assert!(laid_over(Some(&dir), "vars/list.json", &vars).is_err());
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(dir.join("vars")).unwrap().collect();
        assert_eq!(names.len(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
