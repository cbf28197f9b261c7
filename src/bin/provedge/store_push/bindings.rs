//! The R2 bucket the Worker reads: the one its wrangler configuration binds as `BUCKET`.
//!
//! A push without a bucket puts every key in KV, while a Worker with `BUCKET` bound looks for
//! templates and files in R2: the two must agree. So without `--bucket`, the push reads the
//! bucket from the wrangler configuration wrangler itself uses from the working directory (the
//! one `--binding STORE` takes the KV namespace id from), and both halves of the store go where
//! that Worker reads them. Only the top level is read, not `[env.*]` sections.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The Worker's R2 binding (docs/worker.md).
pub const R2_BINDING: &str = "BUCKET";

/// The names wrangler looks for, in its order.
const CONFIG_NAMES: [&str; 3] = ["wrangler.json", "wrangler.jsonc", "wrangler.toml"];

/// The part of a wrangler configuration read here.
#[derive(Default, Deserialize)]
struct WranglerConfig {
    #[serde(default)]
    r2_buckets: Vec<R2Bucket>,
}

#[derive(Deserialize)]
struct R2Bucket {
    binding: String,
    #[serde(default)]
    bucket_name: Option<String>,
}

/// The bucket bound as [`R2_BINDING`] in the wrangler configuration found from `dir`, with
/// that file; `None` when there is no configuration or it binds no such bucket.
pub fn configured_bucket(dir: &Path) -> Result<Option<(String, PathBuf)>, String> {
    let Some(path) = find_config(dir) else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let parsed: Result<WranglerConfig, String> = match path.extension().and_then(|e| e.to_str()) {
        Some("toml") => toml::from_str(&text).map_err(|e| e.to_string()),
        _ => serde_json::from_str(&without_comments(&text)).map_err(|e| e.to_string()),
    };
    let config = parsed.map_err(|e| {
        format!(
            "{}: cannot read its r2_buckets ({e}); give the bucket with --bucket",
            path.display()
        )
    })?;
    Ok(config
        .r2_buckets
        .into_iter()
        .find(|b| b.binding == R2_BINDING)
        .and_then(|b| b.bucket_name)
        .map(|name| (name, path)))
}

/// The wrangler configuration wrangler uses from `dir`: the nearest `wrangler.json` in `dir`
/// or a folder above it, else the nearest `wrangler.jsonc`, else the nearest `wrangler.toml`.
fn find_config(dir: &Path) -> Option<PathBuf> {
    CONFIG_NAMES
        .iter()
        .find_map(|name| dir.ancestors().map(|d| d.join(name)).find(|p| p.is_file()))
}

/// JSON with comments (`wrangler.jsonc`) as JSON: `//` and `/* */` comments outside strings
/// become spaces.
fn without_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match c {
                '\\' => out.extend(chars.next()),
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match (c, chars.peek()) {
            ('"', _) => {
                in_string = true;
                out.push(c);
            }
            ('/', Some('/')) => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            ('/', Some('*')) => {
                chars.next();
                let mut last = ' ';
                for c in chars.by_ref() {
                    if last == '*' && c == '/' {
                        break;
                    }
                    last = c;
                }
                out.push(' ');
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_bound_as_bucket_in_toml_json_and_jsonc() {
        let root = std::env::temp_dir().join(format!("provedge-bindings-{}", std::process::id()));
        let deep = root.join("edge/sub");
        std::fs::create_dir_all(&deep).unwrap();
        assert_eq!(configured_bucket(&deep).unwrap(), None);

        let toml = root.join("edge/wrangler.toml");
        std::fs::write(
            &toml,
            "name = \"provedge\"\n[[r2_buckets]]\nbinding = \"OTHER\"\nbucket_name = \"x\"\n\
             [[r2_buckets]]\nbinding = \"BUCKET\"\nbucket_name = \"provedge-files\"\n",
        )
        .unwrap();
        assert_eq!(
            configured_bucket(&deep).unwrap(),
            Some(("provedge-files".into(), toml))
        );

        // wrangler.json wins over wrangler.toml, wherever it is above.
        let json = root.join("wrangler.jsonc");
        std::fs::write(
            &json,
            "{ // the Worker\n \"r2_buckets\": [/* one */ {\"binding\": \"BUCKET\", \
             \"bucket_name\": \"a//b\"}] }",
        )
        .unwrap();
        assert_eq!(
            configured_bucket(&deep).unwrap(),
            Some(("a//b".into(), json))
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
