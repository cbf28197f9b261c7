//! Wazo provd's JSON database, as provd keeps it: `JSONDB/devices/<id>` and
//! `JSONDB/configs/<id>`, one compact JSON document per file, named by its id with no
//! extension. And provd's own inheritance: a config's effective `raw_config` is its parents'
//! (depth-first, in `parent_ids` order, each config once) with its own laid over, nested
//! dicts merged key by key, then provd's defaults.

use std::collections::{BTreeMap, BTreeSet};
use std::io::ErrorKind;
use std::path::Path;

use serde_json::{Map, Value};

/// A JSON object, as provd stores documents.
pub type Object = Map<String, Value>;

/// One readable document of a collection.
#[derive(Debug)]
pub struct Document {
    /// `devices/<file name>`: how the report names it.
    pub file: String,
    pub body: Object,
}

/// A config document.
#[derive(Debug)]
pub struct Config {
    pub id: String,
    pub parent_ids: Vec<String>,
    pub raw_config: Object,
    /// `"autocreate"` on the auto-provisioning config, `"default"` on the default one.
    pub role: Option<String>,
    /// The device template wazo-confd based a device's config on.
    pub configdevice: Option<String>,
}

/// Every config, by id; and the ids of config files that could not be read.
#[derive(Debug, Default)]
pub struct Configs {
    by_id: BTreeMap<String, Config>,
    unreadable: BTreeSet<String>,
}

/// What `JSONDB_DIR` holds.
#[derive(Debug, Default)]
pub struct JsonDb {
    /// Device documents, in file-name order.
    pub devices: Vec<Document>,
    pub configs: Configs,
    /// Files that are not documents provd would read: (`configs/<file>`, reason).
    pub refused: Vec<(String, String)>,
}

/// Reads `dir/devices/` and `dir/configs/`. An error (no `devices/` folder, an unreadable
/// folder) is a usage error: nothing could be imported.
pub fn read(dir: &Path) -> Result<JsonDb, String> {
    let devices_dir = dir.join("devices");
    if !devices_dir.is_dir() {
        return Err(format!(
            "{}: no devices/ folder (JSONDB_DIR is provd's jsondb, usually /var/lib/wazo-provd/jsondb)",
            dir.display()
        ));
    }
    let mut db = JsonDb::default();
    for (file, doc) in collection(&devices_dir, "devices")? {
        match doc {
            Ok(body) => db.devices.push(Document { file, body }),
            Err(why) => db.refused.push((file, why)),
        }
    }
    for (file, doc) in collection(&dir.join("configs"), "configs")? {
        let name = file.trim_start_matches("configs/").to_owned();
        match doc.and_then(|body| config(&name, body)) {
            Ok(cfg) => {
                db.configs.by_id.insert(cfg.id.clone(), cfg);
            }
            Err(why) => {
                db.configs.unreadable.insert(name);
                db.refused.push((file, why));
            }
        }
    }
    Ok(db)
}

/// A collection's file (`devices/<name>`) and its document, or why it is not one.
type Entry = (String, Result<Object, String>);

/// Every file of a collection folder but dotfiles (an absent folder is empty), in name order,
/// each parsed as a JSON object or the reason it is not one. Reasons never quote the content.
fn collection(dir: &Path, name: &str) -> Result<Vec<Entry>, String> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("{}: {e}", dir.display())),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if file_name.starts_with('.') || entry.path().is_dir() {
            continue;
        }
        files.push((file_name, entry.path()));
    }
    files.sort();
    Ok(files
        .into_iter()
        .map(|(file_name, path)| {
            let doc = match std::fs::read(&path) {
                Ok(bytes) => match serde_json::from_slice::<Value>(&bytes) {
                    Ok(Value::Object(body)) => Ok(body),
                    Ok(_) => Err("not a JSON object".to_owned()),
                    Err(e) => Err(format!(
                        "not JSON (line {} column {})",
                        e.line(),
                        e.column()
                    )),
                },
                Err(e) => Err(format!("cannot be read: {}", e.kind())),
            };
            (format!("{name}/{file_name}"), doc)
        })
        .collect())
}

/// A config document's fields; `file_name` is its id.
fn config(file_name: &str, mut body: Object) -> Result<Config, String> {
    let id = match body.get("id") {
        Some(Value::String(id)) if id == file_name => id.clone(),
        Some(Value::String(_)) => return Err("its id is not its file name".into()),
        Some(_) => return Err("id is not a string".into()),
        None => return Err("lacks id".into()),
    };
    let parent_ids = match body.get("parent_ids") {
        Some(Value::Array(ids)) => ids
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or("parent_ids is not a list of ids")?,
        Some(_) => return Err("parent_ids is not a list of ids".into()),
        None => return Err("lacks parent_ids".into()),
    };
    let raw_config = match body.remove("raw_config") {
        Some(Value::Object(raw)) => raw,
        Some(_) => return Err("raw_config is not an object".into()),
        None => return Err("lacks raw_config".into()),
    };
    let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_owned);
    Ok(Config {
        role: text("role"),
        configdevice: text("configdevice"),
        id,
        parent_ids,
        raw_config,
    })
}

impl Configs {
    /// The config of `id`.
    pub fn get(&self, id: &str) -> Option<&Config> {
        self.by_id.get(id)
    }

    /// Whether `id` names a config file that could not be read.
    pub fn is_unreadable(&self, id: &str) -> bool {
        self.unreadable.contains(id)
    }

    /// The configs whose `raw_config` make up `id`'s, in the order provd applies them: each
    /// parent (its own parents first) in `parent_ids` order, then `id` itself; a config
    /// reached twice (a diamond, a cycle) counts once, where it was first reached.
    pub fn chain(&self, id: &str) -> Result<Vec<&Config>, String> {
        let mut visited = BTreeSet::new();
        let mut chain = Vec::new();
        self.visit(id, None, &mut visited, &mut chain)?;
        Ok(chain)
    }

    fn visit<'a>(
        &'a self,
        id: &str,
        child: Option<&str>,
        visited: &mut BTreeSet<String>,
        chain: &mut Vec<&'a Config>,
    ) -> Result<(), String> {
        if !visited.insert(id.to_owned()) {
            return Ok(());
        }
        let Some(config) = self.by_id.get(id) else {
            let what = if self.unreadable.contains(id) {
                "could not be read"
            } else {
                "does not exist"
            };
            return Err(match child {
                Some(child) => format!("config {child:?}'s parent {id:?} {what}"),
                None => format!("config {id:?} {what}"),
            });
        };
        for parent in &config.parent_ids {
            self.visit(parent, Some(id), visited, chain)?;
        }
        chain.push(config);
        Ok(())
    }

    /// The effective `raw_config` of config `id`: [`Configs::chain`] merged, later wins, then
    /// [`set_defaults`].
    pub fn effective(&self, id: &str) -> Result<Object, String> {
        let mut raw = Object::new();
        for config in self.chain(id)? {
            provedge::store::merge(&mut raw, &config.raw_config);
        }
        set_defaults(&mut raw);
        Ok(raw)
    }
}

/// provd's `_set_defaults_raw_config`, as far as lines are concerned: `sip_registrar_ip` from
/// `sip_proxy_ip`, `sip_transport` `udp`, and per line `registrar_ip` from `proxy_ip` and
/// `auth_username` from `username`, each only where absent.
pub fn set_defaults(raw: &mut Object) {
    if let Some(proxy) = raw.get("sip_proxy_ip").cloned() {
        raw.entry("sip_registrar_ip").or_insert(proxy);
    }
    raw.entry("sip_transport")
        .or_insert_with(|| Value::String("udp".into()));
    if let Some(Value::Object(lines)) = raw.get_mut("sip_lines") {
        for line in lines.values_mut() {
            let Value::Object(line) = line else { continue };
            if let Some(proxy) = line.get("proxy_ip").cloned() {
                line.entry("registrar_ip").or_insert(proxy);
            }
            if let Some(user) = line.get("username").cloned() {
                line.entry("auth_username").or_insert(user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn configs(docs: &[Value]) -> Configs {
        let mut configs = Configs::default();
        for doc in docs {
            let Value::Object(body) = doc.clone() else {
                panic!()
            };
            let id = body["id"].as_str().unwrap().to_owned();
            configs.by_id.insert(id.clone(), config(&id, body).unwrap());
        }
        configs
    }

    fn ids(configs: &Configs, id: &str) -> Vec<String> {
        configs
            .chain(id)
            .unwrap()
            .iter()
            .map(|c| c.id.clone())
            .collect()
    }

    #[test]
    fn parents_apply_depth_first_in_list_order_and_later_wins() {
        let c = configs(&[
            json!({"id": "base", "parent_ids": [], "raw_config": {"a": "base", "b": "base", "ntp_ip": "10.0.0.1"}}),
            json!({"id": "tpl", "parent_ids": ["root"], "raw_config": {"a": "tpl", "c": "tpl"}}),
            json!({"id": "root", "parent_ids": [], "raw_config": {"a": "root", "d": "root"}}),
            json!({"id": "dev", "parent_ids": ["base", "tpl"], "raw_config": {"c": "dev"}}),
        ]);
        assert_eq!(ids(&c, "dev"), ["base", "root", "tpl", "dev"]);
        let raw = c.effective("dev").unwrap();
        assert_eq!(raw["a"], "tpl");
        assert_eq!(raw["b"], "base");
        assert_eq!(raw["c"], "dev");
        assert_eq!(raw["d"], "root");
        assert_eq!(raw["sip_transport"], "udp");
    }

    #[test]
    fn nested_dicts_merge_key_by_key_and_lists_and_scalars_are_replaced() {
        let c = configs(&[
            json!({"id": "p", "parent_ids": [], "raw_config": {
                "sip_lines": {"1": {"username": "1001", "password": "a", "proxy_ip": "p1"}, "2": {"username": "2"}},
                "funckeys": {"1": {"type": "blf", "value": "1"}},
                "list": [1, 2], "x": {"deep": {"k": 1, "j": 2}}}}),
            json!({"id": "d", "parent_ids": ["p"], "raw_config": {
                "sip_lines": {"1": {"password": "b", "registrar_ip": "r1"}},
                "funckeys": "none", "list": [3], "x": {"deep": {"k": 9}}}}),
        ]);
        let raw = c.effective("d").unwrap();
        assert_eq!(
            raw["sip_lines"],
            json!({"1": {"username": "1001", "auth_username": "1001", "password": "b",
                          "proxy_ip": "p1", "registrar_ip": "r1"},
                    "2": {"username": "2", "auth_username": "2"}})
        );
        assert_eq!(raw["funckeys"], "none");
        assert_eq!(raw["list"], json!([3]));
        assert_eq!(raw["x"], json!({"deep": {"k": 9, "j": 2}}));
    }

    #[test]
    fn cycles_and_diamonds_visit_each_config_once() {
        let c = configs(&[
            json!({"id": "a", "parent_ids": ["b"], "raw_config": {"v": "a"}}),
            json!({"id": "b", "parent_ids": ["a"], "raw_config": {"v": "b"}}),
            json!({"id": "base", "parent_ids": [], "raw_config": {}}),
            json!({"id": "l", "parent_ids": ["base"], "raw_config": {}}),
            json!({"id": "r", "parent_ids": ["base"], "raw_config": {}}),
            json!({"id": "dev", "parent_ids": ["l", "r", "l"], "raw_config": {}}),
        ]);
        assert_eq!(ids(&c, "a"), ["b", "a"]);
        assert_eq!(c.effective("a").unwrap()["v"], "a");
        assert_eq!(ids(&c, "dev"), ["base", "l", "r", "dev"]);
    }

    #[test]
    fn a_missing_parent_is_named() {
        let c = configs(&[json!({"id": "d", "parent_ids": ["gone"], "raw_config": {}})]);
        assert_eq!(
            c.chain("d").unwrap_err(),
            "config \"d\"'s parent \"gone\" does not exist"
        );
        assert_eq!(
            c.chain("nope").unwrap_err(),
            "config \"nope\" does not exist"
        );
    }

    #[test]
    fn defaults_fill_only_what_is_absent() {
        let mut raw = json!({"sip_proxy_ip": "p", "sip_transport": "tls",
            "sip_lines": {"1": {"proxy_ip": "lp", "username": "u"},
                          "2": {"proxy_ip": "lp", "registrar_ip": "lr", "username": "u", "auth_username": "a"}}});
        let Value::Object(map) = &mut raw else {
            panic!()
        };
        set_defaults(map);
        assert_eq!(map["sip_registrar_ip"], "p");
        assert_eq!(map["sip_transport"], "tls");
        assert_eq!(map["sip_lines"]["1"]["registrar_ip"], "lp");
        assert_eq!(map["sip_lines"]["1"]["auth_username"], "u");
        assert_eq!(map["sip_lines"]["2"]["registrar_ip"], "lr");
        assert_eq!(map["sip_lines"]["2"]["auth_username"], "a");
    }

    #[test]
    fn config_documents_need_their_keys() {
        let body = |v: Value| match v {
            Value::Object(m) => m,
            _ => panic!(),
        };
        assert_eq!(
            config("x", body(json!({"parent_ids": [], "raw_config": {}}))).unwrap_err(),
            "lacks id"
        );
        assert_eq!(
            config("x", body(json!({"id": "x", "raw_config": {}}))).unwrap_err(),
            "lacks parent_ids"
        );
        assert_eq!(
            config(
                "x",
                body(json!({"id": "x", "parent_ids": [1], "raw_config": {}}))
            )
            .unwrap_err(),
            "parent_ids is not a list of ids"
        );
        assert_eq!(
            config("x", body(json!({"id": "x", "parent_ids": []}))).unwrap_err(),
            "lacks raw_config"
        );
        assert_eq!(
            config(
                "y",
                body(json!({"id": "x", "parent_ids": [], "raw_config": {}}))
            )
            .unwrap_err(),
            "its id is not its file name"
        );
    }
}
