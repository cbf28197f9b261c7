//! One access record per request, the same in every host, and the last-seen update it implies.
//!
//! A host feeds a [`Trail`] every decision it carries out (and what its store reads found in
//! its own cache), then asks for the [`AccessRecord`] once the answer went out. The record
//! holds what the native server's JSON log line always held: the route's vendor, kind, MAC,
//! model and file, or, for a request that did not route, its path as
//! [`crate::Engine::loggable_path`] gives it (no query, URL token masked), never headers or
//! secrets, and the core's note. Every host emits it its own way (stdout JSON natively, the
//! proxy's log in the filter, `console.log` in the Worker), so fleets look alike whatever runs
//! them.
//!
//! The record's [`LastSeen`] is there only for a device the engine *knows* (its record was read
//! or a certificate proved it) and an answer below 400; [`LastSeenMarks`] keeps hosts from
//! writing it more than once per interval per device.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::decision::Decision;
use crate::key::StoreKey;
use crate::mac::{Mac, MacCase};
use crate::request::Request;
use crate::route::Route;
use crate::seeded_map::SeededMap;

/// What a host saw of one request, decision by decision.
#[derive(Clone, Debug, Default)]
pub struct Trail {
    route: Option<Route>,
    tenant: Option<Arc<str>>,
    device: Option<Mac>,
    note: Option<String>,
    reads: usize,
    cached_reads: usize,
}

impl Trail {
    /// Remembers what a decision says of the request: its route, tenant, the device the
    /// engine knows, the note of a response.
    pub fn saw(&mut self, decision: &Decision) {
        if let (None, Some(route)) = (&self.route, decision.route()) {
            self.route = Some(route.clone());
        }
        if let Some(tenant) = decision.tenant() {
            self.tenant = Some(tenant.into());
        }
        match decision {
            Decision::Respond(resp) => {
                self.device = resp.device.or(self.device);
                if let Some(note) = &resp.note {
                    self.note = Some(note.clone());
                }
            }
            Decision::Stream(s) => self.device = s.device().or(self.device),
            Decision::Upload(u) => self.device = u.device().or(self.device),
            _ => {}
        }
    }

    /// The host read `keys` keys for a fetch round, `from_cache` of them from its own cache.
    pub fn read(&mut self, keys: usize, from_cache: usize) {
        self.reads += keys;
        self.cached_reads += from_cache.min(keys);
    }

    /// The answer the host finally sent (its status may be the host's own, e.g. a 502 from an
    /// upstream), and the device it was for when the core said so.
    pub fn answered(&mut self, resp: &crate::Response) {
        self.device = resp.device.or(self.device);
        if let Some(note) = &resp.note {
            self.note = Some(note.clone());
        }
    }

    /// A fault of the host's own (an upstream that timed out): the reason, for the note.
    pub fn note(&mut self, note: impl Into<String>) {
        self.note = Some(note.into());
    }

    /// The device the answer was for, when the host learnt it from a stream's answer.
    pub fn device(&mut self, device: Option<Mac>) {
        self.device = device.or(self.device);
    }

    /// The recognised request, if any.
    pub fn route(&self) -> Option<&Route> {
        self.route.as_ref()
    }

    /// The record of the request, once answered.
    pub fn record(&self, engine: &crate::Engine, req: &Request, done: Done) -> AccessRecord {
        let route = self.route.as_ref();
        let tenant = self.tenant.as_deref().map(str::to_owned);
        let seen = match (route, self.device, done.status < 400) {
            (Some(_), Some(device), true) => Some(Seen {
                device,
                unix: done.arrived_ms / 1000,
                user_agent: req.user_agent().map(|ua| shorten(ua, 256).to_owned()),
            }),
            _ => None,
        };
        AccessRecord {
            time: rfc3339(done.arrived_ms),
            client: done.client,
            method: shorten(req.method.as_str(), 16).to_owned(),
            tenant,
            vendor: route.map(|r| r.vendor().name()),
            kind: route.map(|r| r.kind().name()),
            mac: route
                .and_then(Route::mac)
                .map(|m| m.compact(MacCase::Lower)),
            model: route.and_then(Route::model).map(|m| m.as_str().to_owned()),
            file: route.map(|r| r.file().to_owned()),
            path: route
                .is_none()
                .then(|| shorten(&engine.loggable_path(&req.target), 200).to_owned()),
            status: done.status,
            bytes: done.bytes,
            duration_us: done.duration_us,
            cache: match (self.reads, self.reads - self.cached_reads) {
                (0, _) => None,
                (_, 0) => Some("hit"),
                _ => Some("miss"),
            },
            note: self.note.clone(),
            seen,
        }
    }
}

/// How the request ended, as the host knows it.
#[derive(Clone, Copy, Debug)]
pub struct Done {
    /// When it arrived, in milliseconds since the Unix epoch.
    pub arrived_ms: u64,
    /// The client's address (the connection's peer).
    pub client: Option<IpAddr>,
    pub status: u16,
    /// Body bytes sent.
    pub bytes: u64,
    /// Microseconds from arrival to the response head.
    pub duration_us: u64,
}

/// One request's record: the JSON line every host emits.
#[derive(Clone, Debug, Serialize)]
pub struct AccessRecord {
    pub time: String,
    pub client: Option<IpAddr>,
    pub method: String,
    pub tenant: Option<String>,
    pub vendor: Option<&'static str>,
    pub kind: Option<&'static str>,
    /// The MAC the request is about (claimed or proven; see [`LastSeen`] for proven ones).
    pub mac: Option<String>,
    pub model: Option<String>,
    pub file: Option<String>,
    /// Only for requests that did not route: the loggable path, shortened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub status: u16,
    pub bytes: u64,
    pub duration_us: u64,
    /// `hit` when every store read came from the host's cache, `miss` when one did not.
    pub cache: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Set when the request implies a last-seen update (see [`AccessRecord::last_seen`]).
    #[serde(skip)]
    seen: Option<Seen>,
}

/// What a device's last-seen update needs besides the record's own fields. Kept instead of
/// the update itself, which most requests never write (a device is written at most once per
/// interval) and which cost several copies of the record's strings to build.
#[derive(Clone, Debug)]
struct Seen {
    /// The device the engine knows the answer was for.
    device: Mac,
    unix: u64,
    user_agent: Option<String>,
}

impl AccessRecord {
    /// The record of a request the host refused before the engine saw it (a head that came
    /// too late or malformed): only what the host knows, and why.
    pub fn before_engine(done: Done, note: &str) -> AccessRecord {
        AccessRecord {
            time: rfc3339(done.arrived_ms),
            client: done.client,
            method: "-".into(),
            tenant: None,
            vendor: None,
            kind: None,
            mac: None,
            model: None,
            file: None,
            path: None,
            status: done.status,
            bytes: done.bytes,
            duration_us: done.duration_us,
            cache: None,
            note: Some(note.to_owned()),
            seen: None,
        }
    }

    /// The record as one JSON line (without the newline).
    ///
    /// Written field by field rather than through `serde_json`: the record is built on every
    /// request in every host, and in a wasm VM the generic serializer cost several
    /// microseconds of a request's budget. The bytes are `serde_json::to_string`'s, which the
    /// tests hold it to.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(256);
        out.push_str("{\"time\":");
        json::string(&mut out, &self.time);
        out.push_str(",\"client\":");
        json::option(&mut out, self.client.as_ref(), json::address);
        out.push_str(",\"method\":");
        json::string(&mut out, &self.method);
        out.push_str(",\"tenant\":");
        json::option(&mut out, self.tenant.as_deref(), json::string);
        out.push_str(",\"vendor\":");
        json::option(&mut out, self.vendor, json::string);
        out.push_str(",\"kind\":");
        json::option(&mut out, self.kind, json::string);
        out.push_str(",\"mac\":");
        json::option(&mut out, self.mac.as_deref(), json::string);
        out.push_str(",\"model\":");
        json::option(&mut out, self.model.as_deref(), json::string);
        out.push_str(",\"file\":");
        json::option(&mut out, self.file.as_deref(), json::string);
        if let Some(path) = &self.path {
            out.push_str(",\"path\":");
            json::string(&mut out, path);
        }
        out.push_str(",\"status\":");
        json::number(&mut out, u64::from(self.status));
        out.push_str(",\"bytes\":");
        json::number(&mut out, self.bytes);
        out.push_str(",\"duration_us\":");
        json::number(&mut out, self.duration_us);
        out.push_str(",\"cache\":");
        json::option(&mut out, self.cache, json::string);
        if let Some(note) = &self.note {
            out.push_str(",\"note\":");
            json::string(&mut out, note);
        }
        out.push('}');
        out
    }

    /// The key of the last-seen update this request implies, if any: what a host checks
    /// against its [`LastSeenMarks`] before it builds the update.
    pub fn last_seen_key(&self) -> Option<StoreKey> {
        let seen = self.seen.as_ref()?;
        Some(last_seen_key(self.tenant.as_deref(), seen.device))
    }

    /// The device's last-seen update this request implies, if any: a device the engine knows
    /// (its record was read or a certificate proved it), answered below 400. Built on each
    /// call.
    pub fn last_seen(&self) -> Option<LastSeen> {
        let seen = self.seen.as_ref()?;
        Some(LastSeen {
            key: last_seen_key(self.tenant.as_deref(), seen.device),
            mac: seen.device.compact(MacCase::Lower),
            time: self.time.clone(),
            unix: seen.unix,
            ip: self.client,
            user_agent: seen.user_agent.clone(),
            tenant: self.tenant.clone(),
            // A routed request's record has both (`seen` is only set for one).
            vendor: self.vendor?,
            model: self.model.clone(),
            file: self.file.clone()?,
            status: self.status,
        })
    }
}

/// A device's last answered request, stored at [`LastSeen::key`] (the fleet page reads it).
#[derive(Clone, Debug, Serialize)]
pub struct LastSeen {
    #[serde(skip)]
    key: StoreKey,
    pub mac: String,
    pub time: String,
    pub unix: u64,
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
    pub tenant: Option<String>,
    pub vendor: &'static str,
    pub model: Option<String>,
    pub file: String,
    pub status: u16,
}

impl LastSeen {
    /// `[tenants/<name>/]last-seen/<mac>.json`.
    pub fn key(&self) -> &StoreKey {
        &self.key
    }

    /// The device's MAC, typed.
    pub fn device(&self) -> Option<Mac> {
        self.mac.parse().ok()
    }

    /// The stored form.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }
}

/// The key of a device's last-seen record in a tenant's namespace.
pub fn last_seen_key(tenant: Option<&str>, mac: Mac) -> StoreKey {
    let mut key = crate::store::namespace(tenant);
    key.reserve(27);
    key.push_str("last-seen/");
    key.push_str(&mac.compact(MacCase::Lower));
    key.push_str(".json");
    StoreKey::trusted(key)
}

/// When each device's last-seen record was last written: at most once per `interval` per
/// device, in a table bounded by `max_devices` (full, it drops the marks that are due anyway;
/// still full, new devices wait for room).
#[derive(Debug)]
pub struct LastSeenMarks {
    marks: Mutex<SeededMap<StoreKey, u64>>,
    interval: u64,
    max_devices: usize,
}

impl LastSeenMarks {
    pub fn new(interval_secs: u64, max_devices: usize) -> LastSeenMarks {
        LastSeenMarks {
            marks: Mutex::default(),
            interval: interval_secs,
            max_devices: max_devices.max(1),
        }
    }

    /// Whether the update at `key` (a [`LastSeen::key`]) is due to be written at `now`
    /// (seconds); marks it written if so.
    pub fn due(&self, key: &StoreKey, now: u64) -> bool {
        let Ok(mut marks) = self.marks.lock() else {
            return false;
        };
        let interval = self.interval;
        match marks.get(key) {
            Some(&last) if now < last.saturating_add(interval) => false,
            Some(_) => {
                marks.insert(key.clone(), now);
                true
            }
            None => {
                if marks.len() >= self.max_devices {
                    marks.retain(|_, last| now < last.saturating_add(interval));
                }
                if marks.len() >= self.max_devices {
                    return false;
                }
                marks.insert(key.clone(), now);
                true
            }
        }
    }

    /// How many devices are marked.
    pub fn len(&self) -> usize {
        self.marks.lock().map_or(0, |m| m.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// RFC 3339 UTC with milliseconds, from milliseconds since the Unix epoch.
///
/// Written digit by digit: every host stamps every request's record with it, and `format!`'s
/// machinery cost several times as much in a wasm VM.
pub fn rfc3339(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, day) = civil_from_days(days);
    // A year past 9999 (an absurd clock) keeps all its digits, as `{:04}` did.
    let mut out = String::with_capacity(24);
    if y > 9999 {
        out.push_str(itoa::Buffer::new().format(y));
    } else {
        two_digits(&mut out, y / 100);
        two_digits(&mut out, y % 100);
    }
    for (sep, value) in [
        ('-', m),
        ('-', day),
        ('T', rem / 3600),
        (':', rem % 3600 / 60),
        (':', rem % 60),
    ] {
        out.push(sep);
        two_digits(&mut out, value);
    }
    out.push('.');
    let millis = ms % 1000;
    out.push(digit(millis / 100));
    two_digits(&mut out, millis % 100);
    out.push('Z');
    out
}

/// `value` (below 100) as two decimal digits. Divisions by constants only: they compile to
/// multiplications, where a divisor computed at run time cost a division per digit in wasm.
fn two_digits(out: &mut String, value: u64) {
    out.push(digit(value / 10));
    out.push(digit(value % 10));
}

/// The decimal digit of `value`'s last place.
fn digit(value: u64) -> char {
    // `value % 10` is below 10.
    char::from(b'0' + (value % 10) as u8)
}

/// Days since 1970-01-01 to (year, month, day), after Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// At most `max` bytes of `s`, cut at a character boundary.
pub fn shorten(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

/// The few JSON writers [`AccessRecord::to_json`] needs, byte for byte as `serde_json` writes.
mod json {
    use std::fmt::Write;
    use std::net::IpAddr;

    /// A JSON string: `"`, `\\` and control characters escaped as `serde_json` escapes them;
    /// everything else, UTF-8 included, as it is. Runs without an escape are copied whole.
    pub(super) fn string(out: &mut String, value: &str) {
        out.push('"');
        let mut plain = 0;
        // Every byte that needs an escape is ASCII, so a byte scan never splits a character.
        for (at, byte) in value.bytes().enumerate() {
            let escape = match byte {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0x08 => "\\b",
                0x0c => "\\f",
                0..=0x1f => "\\u00",
                _ => continue,
            };
            out.push_str(value.get(plain..at).unwrap_or_default());
            out.push_str(escape);
            if escape == "\\u00" {
                let _ = write!(out, "{byte:02x}");
            }
            plain = at + 1;
        }
        out.push_str(value.get(plain..).unwrap_or_default());
        out.push('"');
    }

    pub(super) fn option<T>(out: &mut String, value: Option<T>, write: impl Fn(&mut String, T)) {
        match value {
            Some(value) => write(out, value),
            None => out.push_str("null"),
        }
    }

    /// An address as a string, as its `Display` writes it. An IPv4 address (the common
    /// client) is written octet by octet: `format!`'s machinery cost more than the rest of the
    /// line in a wasm VM.
    pub(super) fn address(out: &mut String, value: &IpAddr) {
        out.push('"');
        match value {
            IpAddr::V4(v4) => {
                for (i, octet) in v4.octets().into_iter().enumerate() {
                    if i > 0 {
                        out.push('.');
                    }
                    out.push_str(itoa::Buffer::new().format(octet));
                }
            }
            IpAddr::V6(v6) => {
                let _ = write!(out, "{v6}");
            }
        }
        out.push('"');
    }

    pub(super) fn number(out: &mut String, value: u64) {
        out.push_str(itoa::Buffer::new().format(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Engine, Lookup};

    fn any_text() -> impl proptest::strategy::Strategy<Value = String> {
        // Every byte class the writer treats apart: controls, quotes, backslashes, DEL, and
        // multi-byte characters next to them.
        proptest::string::string_regex("[\\x00-\\x20\"\\\\/a-z\\x7f\u{e9}\u{2028}\u{1f600}]{0,24}")
            .expect("a valid pattern")
    }

    proptest::proptest! {
        /// The hand-written JSON is `serde_json`'s, byte for byte, whatever the fields hold.
        #[test]
        fn the_json_line_is_serde_jsons(
            time in any_text(),
            client in proptest::option::of(proptest::prelude::any::<std::net::IpAddr>()),
            method in any_text(),
            strings in proptest::collection::vec(proptest::option::of(any_text()), 6),
            numbers in proptest::prelude::any::<(u16, u64, u64)>(),
            vendor in proptest::option::of(proptest::sample::select(vec!["grandstream", "a\"b"])),
            cache in proptest::option::of(proptest::sample::select(vec!["hit", "miss"])),
        ) {
            let [tenant, mac, model, file, path, note] =
                <[Option<String>; 6]>::try_from(strings).expect("six");
            let record = AccessRecord {
                time,
                client,
                method,
                tenant,
                vendor,
                kind: vendor.map(|_| "config"),
                mac,
                model,
                file,
                path,
                status: numbers.0,
                bytes: numbers.1,
                duration_us: numbers.2,
                cache,
                note,
                seen: None,
            };
            let reference = serde_json::to_string(&record).expect("serialises");
            proptest::prop_assert_eq!(record.to_json(), reference);
        }
    }

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(rfc3339(1_800_000_000_000), "2027-01-15T08:00:00.000Z");
        assert_eq!(rfc3339(1_764_551_045_007), "2025-12-01T01:04:05.007Z");
        assert_eq!(rfc3339(253_402_300_799_999), "9999-12-31T23:59:59.999Z");
        assert_eq!(rfc3339(253_402_300_800_000), "10000-01-01T00:00:00.000Z");
    }

    proptest::proptest! {
        /// The digit writer spells what `format!` spelled, for any instant.
        #[test]
        fn dates_are_formats(ms in 0u64..=u64::MAX / 2) {
            let secs = ms / 1000;
            let (y, m, d) = civil_from_days(secs / 86_400);
            let rem = secs % 86_400;
            let reference = format!(
                "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
                rem / 3600,
                rem % 3600 / 60,
                rem % 60,
                ms % 1000
            );
            proptest::prop_assert_eq!(rfc3339(ms), reference);
        }
    }

    #[test]
    fn a_known_device_gets_a_last_seen_record_once_per_interval() {
        let engine = Engine::default();
        let req = Request::get("/cfg000b82123456.xml");
        let mut trail = Trail::default();
        let mut decision = engine.handle(&req, 1_800_000_000);
        loop {
            trail.saw(&decision);
            decision = match decision {
                Decision::Fetch(f) => {
                    let answers: Vec<_> = f
                        .keys()
                        .iter()
                        .map(|k| {
                            let found = if k.as_str() == "devices/000b82123456.json" {
                                Lookup::Found(
                                    br#"{"mac":"000b82123456","vendor":"grandstream"}"#.into(),
                                )
                            } else if k.as_str() == "templates/grandstream/cfg@mac.pvalues" {
                                Lookup::Found(b"P1 = 1\n".into())
                            } else {
                                Lookup::Missing
                            };
                            (k.clone(), found)
                        })
                        .collect();
                    trail.read(answers.len(), 0);
                    f.resume(&engine, answers)
                }
                _ => break,
            };
        }
        let done = Done {
            arrived_ms: 1_800_000_000_000,
            client: "192.0.2.1".parse().ok(),
            status: 200,
            bytes: 10,
            duration_us: 5,
        };
        let record = trail.record(&engine, &req, done);
        assert_eq!(record.vendor, Some("grandstream"));
        assert_eq!(record.cache, Some("miss"));
        let seen = record.last_seen().unwrap();
        assert_eq!(seen.key().as_str(), "last-seen/000b82123456.json");
        assert_eq!(record.last_seen_key().as_ref(), Some(seen.key()));
        assert_eq!(
            (
                seen.mac.as_str(),
                seen.vendor,
                seen.file.as_str(),
                seen.unix
            ),
            (
                "000b82123456",
                "grandstream",
                "cfg000b82123456.xml",
                1_800_000_000
            )
        );
        assert_eq!(
            (seen.time.as_str(), seen.status),
            (record.time.as_str(), 200)
        );
        let marks = LastSeenMarks::new(300, 10);
        assert!(marks.due(seen.key(), 1_800_000_000));
        assert!(!marks.due(seen.key(), 1_800_000_100));
        assert!(marks.due(seen.key(), 1_800_000_300));
        // A refused request records no last-seen.
        let refused = trail.record(
            &engine,
            &req,
            Done {
                status: 403,
                ..done
            },
        );
        assert!(refused.last_seen().is_none() && refused.last_seen_key().is_none());
    }
}
