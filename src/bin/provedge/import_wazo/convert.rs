//! One provd device → one provedge device record (docs/wazo.md has the mapping table), and a
//! config's own settings → a variable layer.
//!
//! Messages name documents, configs, lines and keys, never values: line passwords, admin
//! passwords and the like sit right next to what is named.

use provedge::store::device::{LineKeyKind, Transport};
use provedge::store::{profile_vars_key, DeviceRecord, Line, LineKey};
use provedge::{Mac, Model, Vendor};
use serde_json::Value;

use super::provd::{Configs, Object};

/// What becomes of one device document.
#[derive(Debug)]
pub enum Outcome {
    /// A record to write; `profile_config` is the config its profile layer comes from.
    Converted {
        record: Box<DeviceRecord>,
        profile_config: Option<String>,
        /// What was left out (names only).
        notes: Vec<String>,
    },
    /// Something provedge needs is missing or wrong: nothing is written.
    Refused(String),
    /// Not a device provedge provisions (yet): nothing is written.
    Skipped(String),
}

/// Keys of a config's own `raw_config` that are not variables: lines, keys and SCCP call
/// managers become the record's fields (or are not carried), `config_version` is unused.
const NOT_VARS: [&str; 4] = [
    "sip_lines",
    "funckeys",
    "sccp_call_managers",
    "config_version",
];

/// Converts one device document.
pub fn device(doc: &Object, configs: &Configs) -> Outcome {
    match convert(doc, configs) {
        Ok(outcome) | Err(outcome) => outcome,
    }
}

fn convert(doc: &Object, configs: &Configs) -> Result<Outcome, Outcome> {
    let refuse = |why: String| Outcome::Refused(why);
    let skip = |why: &str| Outcome::Skipped(why.to_owned());
    let mac = match doc.get("mac") {
        None | Some(Value::Null) => return Err(skip("no MAC address")),
        Some(Value::String(s)) => s
            .parse::<Mac>()
            .ok()
            .filter(|m| !m.is_zero())
            .ok_or_else(|| refuse("mac is not a MAC address".into()))?,
        Some(_) => return Err(refuse("mac is not a string".into())),
    };
    let config_id = match doc.get("config") {
        None | Some(Value::Null) => return Err(skip("no config (an unconfigured device)")),
        Some(Value::String(id)) if id.is_empty() => {
            return Err(skip("no config (an unconfigured device)"))
        }
        Some(Value::String(id)) => id.as_str(),
        Some(_) => return Err(refuse("config is not a config id".into())),
    };
    let Some(config) = configs.get(config_id) else {
        if configs.is_unreadable(config_id) {
            return Err(refuse(format!(
                "its config {config_id:?} could not be read"
            )));
        }
        return Err(skip(&format!("its config {config_id:?} does not exist")));
    };
    let chain = configs.chain(config_id).map_err(refuse)?;
    if chain
        .iter()
        .any(|c| c.id == "autoprov" || c.role.as_deref() == Some("autocreate"))
    {
        return Err(skip("auto-provisioning placeholder, no user assigned"));
    }
    let raw = configs.effective(config_id).map_err(refuse)?;

    let lines_map = match raw.get("sip_lines") {
        Some(Value::Object(lines)) => Some(lines),
        None | Some(Value::Null) => None,
        Some(_) => return Err(refuse("sip_lines is not an object".into())),
    };
    let no_lines = lines_map.map_or(true, |l| l.is_empty());
    let sccp = raw
        .get("protocol")
        .and_then(Value::as_str)
        .is_some_and(|p| p.eq_ignore_ascii_case("sccp"))
        || (no_lines
            && raw
                .get("sccp_call_managers")
                .and_then(Value::as_object)
                .is_some_and(|m| !m.is_empty()));
    if sccp {
        return Err(skip("SCCP is not provisioned by provedge"));
    }

    let named = doc.get("vendor").and_then(Value::as_str);
    let Some(vendor) = named
        .and_then(Vendor::from_name)
        .or_else(|| Vendor::by_oui(&mac))
    else {
        return Err(Outcome::Skipped(match named {
            Some(name) => format!(
                "provedge serves no vendor {name:?}, and the MAC's maker (its OUI) is not one it knows"
            ),
            None => "no vendor, and provedge serves no vendor with the MAC's OUI".into(),
        }));
    };
    let Some(lines_map) = lines_map.filter(|l| !l.is_empty()) else {
        return Err(skip("no SIP line (sip_lines is empty): no user assigned"));
    };

    let model = match doc.get("model") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(Model::new(s).ok_or_else(|| {
            refuse(format!(
                "model {s:?} is not a model name (letters, digits, . _ + -, at most 32)"
            ))
        })?),
        Some(_) => return Err(refuse("model is not a string".into())),
    };

    let lines = lines(lines_map, &raw).map_err(refuse)?;
    let mut notes = Vec::new();
    let keys = keys(&raw, &mut notes);

    let profile_config = config
        .configdevice
        .clone()
        .or_else(|| config.parent_ids.iter().find(|p| *p != "base").cloned());
    let profile = match &profile_config {
        Some(id) => {
            let name = profile_name(id);
            if name.is_none() {
                notes.push(format!("profile {id:?} (not a profile name)"));
            }
            name
        }
        None => None,
    };
    let (vars, left_out) = own_vars(&config.raw_config);
    if !left_out.is_empty() {
        notes.push(format!("settings {} (not scalars)", left_out.join(", ")));
    }
    let record = Box::new(DeviceRecord {
        mac,
        vendor,
        model,
        profile,
        lines,
        keys,
        vars,
        encryption: None,
        auth: None,
    });
    Ok(Outcome::Converted {
        profile_config: profile_config.filter(|_| record.profile.is_some()),
        record,
        notes,
    })
}

/// `sip_lines` in line order; their keys must be 1..N.
fn lines(map: &Object, raw: &Object) -> Result<Vec<Line>, String> {
    let mut numbered = Vec::with_capacity(map.len());
    for (key, line) in map {
        let n = number(key).ok_or_else(|| format!("sip_lines key {key:?} is not a line number"))?;
        numbered.push((n, line));
    }
    numbered.sort_by_key(|(n, _)| *n);
    for (i, (n, _)) in numbered.iter().enumerate() {
        if *n != i as u64 + 1 {
            let have: Vec<String> = numbered.iter().map(|(n, _)| n.to_string()).collect();
            return Err(format!(
                "lines {} have a gap: provedge numbers lines 1..N without gaps (line {} is missing)",
                have.join(", "),
                i + 1
            ));
        }
    }
    let transport = match raw.get("sip_transport").and_then(Value::as_str) {
        None => Transport::Udp,
        Some(t) => match t.to_ascii_lowercase().as_str() {
            "udp" => Transport::Udp,
            "tcp" => Transport::Tcp,
            "tls" => Transport::Tls,
            _ => return Err(format!("sip_transport {t:?} is not udp, tcp or tls")),
        },
    };
    numbered
        .into_iter()
        .map(|(n, line)| {
            let Value::Object(line) = line else {
                return Err(format!("line {n} is not an object"));
            };
            let user = text(line.get("username")).ok_or(format!("line {n} has no username"))?;
            let password = text(line.get("password")).ok_or(format!("line {n} has no password"))?;
            let auth_id = text(line.get("auth_username")).filter(|a| *a != user);
            let display_name = text(line.get("display_name"));
            let server = text(line.get("registrar_ip"))
                .or_else(|| text(line.get("proxy_ip")))
                .or_else(|| text(raw.get("sip_registrar_ip")))
                .or_else(|| text(raw.get("sip_proxy_ip")))
                .ok_or(format!("line {n} has no server"))?;
            let port = [
                line.get("registrar_port"),
                line.get("proxy_port"),
                raw.get("sip_registrar_port"),
                raw.get("sip_proxy_port"),
            ]
            .into_iter()
            .flatten()
            .find(|v| !v.is_null())
            .map(|v| port(v).ok_or(format!("line {n}'s port is not 1 to 65535")))
            .transpose()?
            .unwrap_or(if transport == Transport::Tls {
                5061
            } else {
                5060
            });
            Ok(Line {
                user,
                auth_id,
                password,
                label: display_name.clone(),
                display_name,
                server,
                port,
                transport,
            })
        })
        .collect()
}

/// `funckeys` in position order; types provedge has no key for are noted and left out.
fn keys(raw: &Object, notes: &mut Vec<String>) -> Vec<LineKey> {
    let Some(map) = raw.get("funckeys").and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut numbered: Vec<(u64, &str, &Object)> = Vec::new();
    for (pos, key) in map {
        let (Some(n), Some(key)) = (number(pos), key.as_object()) else {
            notes.push(format!("funckey {pos:?} (not a numbered key)"));
            continue;
        };
        numbered.push((n, pos, key));
    }
    numbered.sort_by_key(|(n, _, _)| *n);
    let mut out = Vec::new();
    let mut positions = Vec::new();
    for (n, pos, key) in numbered {
        let kind = match key.get("type").and_then(Value::as_str) {
            Some("speeddial") => LineKeyKind::Speeddial,
            Some("blf") => LineKeyKind::Blf,
            Some("park") => LineKeyKind::Park,
            Some(other) => {
                notes.push(format!("funckey {pos} (type {other:?})"));
                continue;
            }
            None => {
                notes.push(format!("funckey {pos} (no type)"));
                continue;
            }
        };
        let line = match key.get("line") {
            None | Some(Value::Null) => 1,
            Some(v) => match v
                .as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .and_then(|l| u8::try_from(l).ok())
                .filter(|l| *l > 0)
            {
                Some(l) => l,
                None => {
                    notes.push(format!("funckey {pos} (line is not a line number)"));
                    continue;
                }
            },
        };
        positions.push(n);
        out.push(LineKey {
            kind,
            value: text(key.get("value")).unwrap_or_default(),
            label: text(key.get("label")),
            line,
        });
    }
    if positions
        .iter()
        .enumerate()
        .any(|(i, n)| *n != i as u64 + 1)
    {
        let list: Vec<String> = positions.iter().map(u64::to_string).collect();
        notes.push(format!(
            "funckey positions {} (kept in order as keys 1 to {}: provedge's keys are a list)",
            list.join(", "),
            positions.len()
        ));
    }
    out
}

/// The variables of a config's own `raw_config`: its scalars, but lines, keys, SCCP call
/// managers, `config_version`, `X_…` (custom keys) and `XX_…` (the plugins' own); `ntp_ip` also as
/// `ntp_server`, the name provedge's templates read. And the names of the nested settings
/// left out. A `null` is an unset value and is left out silently.
pub fn own_vars(raw: &Object) -> (Object, Vec<String>) {
    let mut vars = Object::new();
    let mut left_out = Vec::new();
    for (name, value) in raw {
        if NOT_VARS.contains(&name.as_str()) || name.starts_with("X_") || name.starts_with("XX_") {
            continue;
        }
        match value {
            Value::String(_) | Value::Number(_) | Value::Bool(_) => {
                vars.insert(name.clone(), value.clone());
            }
            Value::Null => {}
            Value::Array(_) | Value::Object(_) => left_out.push(name.clone()),
        }
    }
    if let Some(ntp) = vars.get("ntp_ip").cloned() {
        vars.entry("ntp_server").or_insert(ntp);
    }
    (vars, left_out)
}

/// A config id as a profile name provedge accepts: lower case, and `-` for any character a
/// store key cannot hold. `None` when nothing usable is left.
pub fn profile_name(id: &str) -> Option<String> {
    let name: String = id
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase()
                || c.is_ascii_digit()
                || matches!(c, '.' | '_' | '+' | ',' | '(' | ')' | '@' | '-')
            {
                c
            } else {
                '-'
            }
        })
        .collect();
    profile_vars_key(&name)
        .filter(|_| !name.is_empty())
        .map(|_| name)
}

/// A position or line key: digits only.
fn number(key: &str) -> Option<u64> {
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    key.parse().ok()
}

/// A string (or a number, written as text); `None` when absent or empty.
fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A port: a number or a numeric string, 1 to 65535.
fn port(v: &Value) -> Option<u16> {
    let n = v
        .as_u64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))?;
    u16::try_from(n).ok().filter(|p| *p > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(v: Value) -> Object {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn own_vars_keep_scalars_and_name_the_rest() {
        let (vars, left_out) = own_vars(&object(json!({
            "ntp_ip": "10.0.0.1", "ntp_enabled": true, "http_port": 8667, "X_key": "x",
            "XX_fkeys": "y", "config_version": 1, "sip_lines": {}, "funckeys": {},
            "sccp_call_managers": {}, "admin_password": "pw", "vlan": {"id": 3}, "dns": [1],
            "unset": null
        })));
        assert_eq!(
            Value::Object(vars),
            json!({"ntp_ip": "10.0.0.1", "ntp_server": "10.0.0.1", "ntp_enabled": true,
                   "http_port": 8667, "admin_password": "pw"})
        );
        assert_eq!(left_out, ["dns", "vlan"]);
    }

    #[test]
    fn profile_names_are_store_key_segments() {
        assert_eq!(
            profile_name("defaultconfigdevice").as_deref(),
            Some("defaultconfigdevice")
        );
        assert_eq!(
            profile_name("Sales Floor/2").as_deref(),
            Some("sales-floor-2")
        );
        assert_eq!(profile_name(&"x".repeat(600)), None);
        assert_eq!(profile_name(""), None);
    }

    #[test]
    fn line_gaps_and_missing_passwords_are_named_without_values() {
        let raw = object(json!({"sip_transport": "udp"}));
        let e = lines(
            &object(
                json!({"1": {"username": "1", "password": "p", "registrar_ip": "s"},
                          "3": {"username": "3", "password": "p", "registrar_ip": "s"}}),
            ),
            &raw,
        )
        .unwrap_err();
        assert!(
            e.contains("lines 1, 3 have a gap") && e.contains("line 2 is missing"),
            "{e}"
        );
        let e = lines(
            &object(json!({"1": {"username": "1", "registrar_ip": "s"}})),
            &raw,
        )
        .unwrap_err();
        assert_eq!(e, "line 1 has no password");
        let e = lines(
            &object(json!({"1": {"username": "1", "password": "hunter2"}})),
            &raw,
        )
        .unwrap_err();
        assert_eq!(e, "line 1 has no server");
    }

    #[test]
    fn ports_fall_back_from_the_line_to_the_config_to_the_transport() {
        let line = json!({"1": {"username": "1", "password": "p", "proxy_ip": "s"}});
        let got = |raw: Value| lines(&object(line.clone()), &object(raw)).unwrap()[0].port;
        assert_eq!(got(json!({})), 5060);
        assert_eq!(got(json!({"sip_transport": "tls"})), 5061);
        assert_eq!(got(json!({"sip_proxy_port": 5070})), 5070);
        assert_eq!(
            got(json!({"sip_proxy_port": 5070, "sip_registrar_port": "5080"})),
            5080
        );
    }
}
