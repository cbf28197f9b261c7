//! One Tancredi phone scope → one provedge device record (docs/tancredi.md has the table).
//!
//! Lines come from the phone's effective variables (defaults → model chain → phone), keys and
//! `vars` from the phone's own `[data]`, `auth` from the token files naming its MAC. The record
//! is built as the core's [`DeviceRecord`] and serialized through the devices commands'
//! [`Stored`], which parses it back before it may be written, so the engine cannot refuse it.
//! Reasons name variables and files, never a value.

use std::collections::{BTreeMap, HashSet};

use provedge::store::device::{DeviceAuth, LineKeyKind, Transport};
use provedge::store::{model_vars_key, DeviceRecord, Line, LineKey, UrlToken};
use provedge::{Mac, MacCase, Model, StoreKey, Vendor};
use serde_json::{Map, Value};

use super::scopes::{merge, Scope, Scopes, Tokens};
use crate::devices::fleet::Stored;

/// The most lines read (`account_username_1` … `_32`), as the fleet CSV's.
const MAX_LINES: u32 = 32;

/// A phone converted.
pub struct Converted {
    pub mac: Mac,
    pub stored: Stored,
    /// What was left out without refusing the phone (`key 5: type "conference" not carried`).
    pub notes: Vec<String>,
    /// The model layer this phone reads, when it inherits from a model.
    pub model_layer: Option<ModelLayer>,
}

/// The variables of a phone's model chain, for `vars/models/<vendor>/<model>.json`.
#[derive(Clone, PartialEq)]
pub struct ModelLayer {
    /// `vars/models/<vendor>/<model>.json`, outside any namespace.
    pub key: StoreKey,
    /// The model scopes merged, oldest ancestor first.
    pub scopes: Vec<String>,
    /// Their merged `[data]`, secret names renamed ([`var_name`]).
    pub vars: Map<String, Value>,
}

/// What became of a phone scope.
pub enum Outcome {
    Converted(Box<Converted>),
    Refused(String),
    Skipped(String),
}

/// Tancredi's name for a variable → the record's: the admin and user passwords get names that
/// provedge's first-boot stripping blanks (it blanks names containing `password`).
pub fn var_name(name: &str) -> &str {
    match name {
        "adminpw" => "admin_password",
        "userpw" => "user_password",
        other => other,
    }
}

/// `[data]` values as a variable layer, names renamed by [`var_name`].
pub fn as_vars(values: &BTreeMap<String, String>) -> Map<String, Value> {
    values
        .iter()
        .map(|(k, v)| (var_name(k).to_owned(), Value::String(v.clone())))
        .collect()
}

/// Converts the phone scope `phone`.
pub fn convert(
    phone: &Scope,
    scopes: &Scopes<'_>,
    tokens: &Tokens,
    first_access: &Tokens,
) -> Outcome {
    let mac = match phone.id.parse::<Mac>() {
        Ok(mac) if !mac.is_zero() => mac,
        Ok(_) => return Outcome::Refused("000000000000 names no device".into()),
        Err(e) => return Outcome::Refused(format!("the scope id is not a MAC: {e}")),
    };
    if let Some((line, name)) = phone.arrays.first() {
        return Outcome::Refused(format!(
            "{}:{line}: `{name}[…]` is an array; a phone's variables are not",
            phone.file.display()
        ));
    }
    let (defaults, ancestors) = match scopes
        .defaults()
        .and_then(|d| Ok((d, scopes.ancestors(phone)?)))
    {
        Ok(found) => found,
        Err(e) => return Outcome::Refused(e),
    };

    // Vendor and model from the model id (`yealink-T46`), else the vendor from the OUI.
    let model_id = phone.inherit_from.as_str();
    let (prefix, model_name) = match model_id.split_once('-') {
        Some((prefix, rest)) => (prefix, Some(rest)),
        None => (model_id, None),
    };
    let Some(vendor) = Vendor::from_name(prefix).or_else(|| Vendor::by_oui(&mac)) else {
        let oui = &mac.compact(MacCase::Lower)[..6];
        return Outcome::Skipped(if prefix.is_empty() {
            format!("no model to name its vendor, and provedge serves no maker of OUI {oui}")
        } else {
            format!("provedge serves no vendor {prefix:?}, nor the maker of OUI {oui}")
        });
    };
    let model = match model_name.filter(|m| !m.is_empty()) {
        None => None,
        Some(name) => match Model::new(name) {
            Some(model) => Some(model),
            None => {
                return Outcome::Refused(format!(
                    "inheritFrom {model_id:?}: {name:?} is not a model name \
                     (letters, digits, . _ + -, at most 32)"
                ))
            }
        },
    };

    let mut layers = vec![defaults];
    layers.extend(ancestors.iter().rev().map(|s| &s.data));
    layers.push(&phone.data);
    let merged = merge(layers);

    let mut faults = Vec::new();
    let mut consumed: HashSet<String> = HashSet::new();
    let lines = lines(&merged, &mut consumed, &mut faults);
    let mut notes = Vec::new();
    let keys = keys(&phone.data, &mut consumed, &mut notes);
    let (auth, auth_json) = match auth(mac, tokens, first_access) {
        Ok(auth) if faults.is_empty() => auth,
        Ok(_) => return Outcome::Refused(faults.join("; ")),
        Err(more) => {
            faults.extend(more);
            return Outcome::Refused(faults.join("; "));
        }
    };

    let vars: Map<String, Value> = phone
        .data
        .iter()
        .filter(|(k, _)| !consumed.contains(*k))
        .map(|(k, v)| (var_name(k).to_owned(), Value::String(v.clone())))
        .collect();
    let record = DeviceRecord {
        mac,
        vendor,
        model,
        profile: None,
        lines,
        keys,
        vars,
        encryption: None,
        auth,
    };
    let mut unserialized = Map::new();
    if let Some(json) = auth_json {
        unserialized.insert("auth".into(), json);
    }
    let stored = Stored {
        record,
        unserialized,
    };
    if let Err(e) = stored.to_json() {
        return Outcome::Refused(e);
    }

    let model_layer = match (
        model.and_then(|m| model_vars_key(vendor, &m)),
        ancestors.is_empty(),
    ) {
        (Some(key), false) => Some(ModelLayer {
            key,
            scopes: ancestors.iter().rev().map(|s| s.id.clone()).collect(),
            vars: as_vars(&merge(ancestors.iter().rev().map(|s| &s.data))),
        }),
        _ => None,
    };
    Outcome::Converted(Box::new(Converted {
        mac,
        stored,
        notes,
        model_layer,
    }))
}

/// PHP's truthiness of a string: anything but `""` and `"0"`.
fn php_truthy(value: Option<&String>) -> bool {
    value.is_some_and(|v| !v.is_empty() && v != "0")
}

/// The lines of `account_username_N` (N = 1…32) that are set, from the effective variables.
fn lines(
    merged: &BTreeMap<String, String>,
    consumed: &mut HashSet<String>,
    faults: &mut Vec<String>,
) -> Vec<Line> {
    let get = |name: &str| merged.get(name).filter(|v| !v.is_empty());
    let mut lines = Vec::new();
    let mut no_hostname = false;
    let mut last = 0;
    for n in 1..=MAX_LINES {
        let user_var = format!("account_username_{n}");
        let Some(user) = get(&user_var) else {
            continue;
        };
        if n != last + 1 {
            faults.push(format!(
                "account_username_{} is empty but {user_var} is set \
                 (provedge numbers lines from 1 without gaps)",
                last + 1
            ));
        }
        last = n;
        let password_var = format!("account_password_{n}");
        let display_var = format!("account_display_name_{n}");
        let password = get(&password_var).cloned().unwrap_or_else(|| {
            faults.push(format!("line {n}: {password_var} is empty"));
            String::new()
        });
        let hostname = get("hostname").cloned().unwrap_or_default();
        no_hostname |= hostname.is_empty();
        let tls = php_truthy(merged.get(&format!("account_encryption_{n}")));
        let (transport, port_var, default_port) = if tls {
            (Transport::Tls, "sip_tls_port", 5061)
        } else {
            (Transport::Udp, "sip_udp_port", 5060)
        };
        let port = match get(port_var) {
            None => default_port,
            Some(v) => match v.trim().parse::<u16>() {
                Ok(p) if p > 0 => p,
                _ => {
                    faults.push(format!("{port_var} {v:?} is not a port (1 to 65535)"));
                    default_port
                }
            },
        };
        let display = get(&display_var).cloned();
        lines.push(Line {
            user: user.clone(),
            auth_id: Some(user.clone()),
            password,
            display_name: display.clone(),
            server: hostname,
            port,
            transport,
            label: display,
        });
        consumed.extend([user_var, password_var, display_var]);
    }
    if no_hostname {
        faults.push(
            "no hostname (the variable `hostname` is empty; Tancredi would use its own host \
             name, which the data does not hold)"
                .into(),
        );
    }
    lines
}

/// The keys of `linekey_type_N` / `_value_N` / `_label_N` in the phone's own variables, N
/// ascending, for the types the record has; others are noted and left in `vars`.
fn keys(
    own: &BTreeMap<String, String>,
    consumed: &mut HashSet<String>,
    notes: &mut Vec<String>,
) -> Vec<LineKey> {
    let mut numbers: Vec<u32> = own
        .keys()
        .filter_map(|k| k.strip_prefix("linekey_type_")?.parse().ok())
        .collect();
    numbers.sort_unstable();
    let mut keys = Vec::new();
    for n in numbers {
        let type_var = format!("linekey_type_{n}");
        let kind = match own.get(&type_var).map(String::as_str) {
            None | Some("") => continue,
            Some("blf") => LineKeyKind::Blf,
            Some("speed_dial") => LineKeyKind::Speeddial,
            Some("line") => LineKeyKind::Line,
            Some("dtmf") => LineKeyKind::Dtmf,
            Some("park") => LineKeyKind::Park,
            Some(other) => {
                notes.push(format!("key {n}: type {other:?} not carried"));
                continue;
            }
        };
        let value_var = format!("linekey_value_{n}");
        let label_var = format!("linekey_label_{n}");
        keys.push(LineKey {
            kind,
            value: own.get(&value_var).cloned().unwrap_or_default(),
            label: own.get(&label_var).filter(|l| !l.is_empty()).cloned(),
            line: 1,
        });
        consumed.extend([type_var, value_var, label_var]);
    }
    keys
}

/// The device's URL tokens: the core's typed form and the JSON stored for it.
type Auth = (Option<DeviceAuth>, Option<Value>);

/// The tokens naming `mac`: `tokens/` is the steady token, `first_access_tokens/` the
/// first-boot one.
fn auth(mac: Mac, tokens: &Tokens, first_access: &Tokens) -> Result<Auth, Vec<String>> {
    let mut json = Map::new();
    let mut typed = DeviceAuth::default();
    let mut faults = Vec::new();
    for (folder, from, field) in [
        ("tokens", tokens, "token"),
        ("first_access_tokens", first_access, "first_boot_token"),
    ] {
        let token = match from.for_mac(mac, folder) {
            Ok(None) => continue,
            Ok(Some(token)) => token,
            Err(e) => {
                faults.push(e);
                continue;
            }
        };
        let Ok(url_token) = UrlToken::try_from(token.to_owned()) else {
            faults.push(format!(
                "the file in {folder}/ naming this MAC is not a URL token (one path segment)"
            ));
            continue;
        };
        json.insert(field.into(), Value::String(token.to_owned()));
        match field {
            "token" => typed.token = Some(url_token),
            _ => typed.first_boot_token = Some(url_token),
        }
    }
    if !faults.is_empty() {
        Err(faults)
    } else if json.is_empty() {
        Ok((None, None))
    } else {
        Ok((Some(typed), Some(Value::Object(json))))
    }
}
