//! What the fleet pages show, as data: the devices of a tenant with their last fetch, and one
//! device in full. Filled by [`super::data`], rendered by [`super::html`], sorted and filtered
//! here (pure functions, so the page's order is tested without a server).

use std::cmp::Ordering;
use std::net::IpAddr;

use provedge::store::DeviceRecord;
use provedge::Mac;
use serde::Deserialize;
use serde_json::Value;

use super::query::{Direction, Query, SortKey};
use super::recent::Fetch;

/// A stored last-seen record, as every host writes it ([`provedge::access::LastSeen`]): read
/// leniently (a field a later version adds is ignored, one missing is absent), since it may
/// come from another host's store.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Seen {
    /// Seconds since the Unix epoch.
    pub unix: u64,
    /// RFC 3339 with milliseconds: only to order fetches of the same second.
    #[serde(default)]
    pub time: Option<String>,
    #[serde(default)]
    pub ip: Option<IpAddr>,
    #[serde(default)]
    pub user_agent: Option<String>,
    #[serde(default)]
    pub vendor: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub file: Option<String>,
    #[serde(default)]
    pub status: Option<u16>,
}

/// Whether a device has a record in the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    Stored,
    /// Seen (a certificate proved it) but not in `devices/`.
    Absent,
    /// There, but not a record the engine reads: why, never its content.
    Unreadable(String),
}

/// One row of the fleet page.
#[derive(Clone, Debug)]
pub struct Device {
    pub mac: Mac,
    /// The record's (the operator's word), else the last fetch's.
    pub vendor: Option<String>,
    pub model: Option<String>,
    pub record: Record,
    pub seen: Option<Seen>,
    /// From the last fetch's User-Agent.
    pub firmware: Option<String>,
}

impl Device {
    pub fn new(
        mac: Mac,
        record: Result<Option<DeviceRecord>, String>,
        seen: Option<Seen>,
    ) -> Device {
        let (vendor, model, record) = match record {
            Ok(Some(r)) => (
                Some(r.vendor.name().to_owned()),
                r.model.map(|m| m.as_str().to_owned()),
                Record::Stored,
            ),
            Ok(None) => (None, None, Record::Absent),
            Err(why) => (None, None, Record::Unreadable(why)),
        };
        let from_seen = |f: fn(&Seen) -> Option<&String>| seen.as_ref().and_then(f).cloned();
        Device {
            mac,
            vendor: vendor.or_else(|| from_seen(|s| s.vendor.as_ref())),
            model: model.or_else(|| from_seen(|s| s.model.as_ref())),
            record,
            firmware: seen
                .as_ref()
                .and_then(|s| s.user_agent.as_deref())
                .and_then(super::firmware::version),
            seen,
        }
    }

    /// A device with a record that never fetched anything (here): listed first.
    pub fn never_seen(&self) -> bool {
        self.seen.is_none()
    }

    /// What the filter matches, lower case: MAC, vendor, model, client address, last file.
    pub fn search_text(&self) -> String {
        let seen = self.seen.as_ref();
        [
            Some(self.mac.to_string()),
            self.vendor.clone(),
            self.model.clone(),
            seen.and_then(|s| s.ip).map(|ip| ip.to_string()),
            seen.and_then(|s| s.file.clone()),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
    }

    /// Whether `needle` (lower case, trimmed) is in what the filter matches; a MAC may be
    /// written with `:` or `-`.
    fn matches(&self, needle: &str) -> bool {
        if needle.is_empty() {
            return true;
        }
        let haystack = self.search_text();
        if haystack.contains(needle) {
            return true;
        }
        let bare: String = needle.chars().filter(|c| !matches!(c, ':' | '-')).collect();
        bare.len() != needle.len() && !bare.is_empty() && self.mac.to_string().contains(&bare)
    }

    /// When the last fetch was: seconds, then the record's millisecond time.
    fn last(&self) -> Option<(u64, Option<&str>)> {
        self.seen.as_ref().map(|s| (s.unix, s.time.as_deref()))
    }

    fn status(&self) -> Option<u16> {
        self.seen.as_ref().and_then(|s| s.status)
    }
}

/// A tenant's devices, as far as a page reads them.
#[derive(Clone, Debug, Default)]
pub struct Listing {
    pub devices: Vec<Device>,
    /// Device records and last-seen records found, before the cap.
    pub records: usize,
    pub seen: usize,
    /// Devices read (at most `max_devices`), before the filter.
    pub read: usize,
    /// Whether `server.fleet.max_devices` cut the list (then only the first devices by MAC
    /// are read).
    pub truncated: bool,
    pub max_devices: usize,
    /// What could not be read, by key or folder (never a file's content).
    pub problems: Vec<String>,
}

impl Listing {
    /// Keeps the devices the query's filter matches, in its order: never-seen devices first
    /// whatever the order (they are what an operator looks for after a rollout), then by the
    /// column, ties by MAC.
    pub fn select(&mut self, query: &Query) {
        let needle = query.filter.to_lowercase();
        self.devices.retain(|d| d.matches(&needle));
        let (key, dir) = (query.sort, query.dir);
        self.devices.sort_by(|a, b| {
            let never = b.never_seen().cmp(&a.never_seen());
            let by_column = compare(a, b, key);
            let by_column = match dir {
                Direction::Asc => by_column,
                Direction::Desc => by_column.reverse(),
            };
            never.then(by_column).then_with(|| a.mac.cmp(&b.mac))
        });
    }
}

/// Values compare case-insensitively; a missing value sorts after every present one.
fn compare(a: &Device, b: &Device, key: SortKey) -> Ordering {
    fn text(v: &Option<String>) -> Option<String> {
        v.as_ref().map(|s| s.to_lowercase())
    }
    fn present_first<T: Ord>(a: Option<T>, b: Option<T>) -> Ordering {
        match (a, b) {
            (Some(a), Some(b)) => a.cmp(&b),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        }
    }
    match key {
        SortKey::Mac => a.mac.cmp(&b.mac),
        SortKey::Vendor => present_first(text(&a.vendor), text(&b.vendor)),
        SortKey::Model => present_first(text(&a.model), text(&b.model)),
        SortKey::Last => present_first(a.last(), b.last()),
        SortKey::Status => present_first(a.status(), b.status()),
    }
}

/// One device in full, secrets masked.
#[derive(Debug)]
pub struct Detail {
    pub mac: Mac,
    /// The record, if the store has one (passwords are shown masked by the page).
    pub record: Result<Option<DeviceRecord>, String>,
    pub seen: Option<Seen>,
    /// The running server's memory of its fetches, newest first; `None` when the page is
    /// served from a store alone (`provedge fleet`).
    pub recent: Option<Vec<Fetch>>,
    /// The merged variables, secrets already replaced by the mask.
    pub vars: Result<Option<Value>, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(mac: &str, vendor: &str, unix: Option<u64>, status: u16) -> Device {
        let mac: Mac = mac.parse().unwrap();
        let record =
            DeviceRecord::from_json(format!(r#"{{"mac":"{mac}","vendor":"{vendor}"}}"#).as_bytes());
        let seen = unix.map(|unix| Seen {
            unix,
            ip: "192.0.2.9".parse().ok(),
            file: Some(format!("{mac}.cfg")),
            status: Some(status),
            ..Seen::default()
        });
        Device::new(mac, record.map(Some), seen)
    }

    fn order(listing: &Listing) -> Vec<String> {
        listing
            .devices
            .iter()
            .map(|d| d.mac.to_string()[10..].to_owned())
            .collect()
    }

    #[test]
    fn never_seen_devices_come_first_whatever_the_order() {
        let all = Listing {
            devices: vec![
                device("001565000001", "yealink", Some(300), 200),
                device("000b82000002", "grandstream", None, 0),
                device("0004f2000003", "polycom", Some(100), 304),
                device("000b82000004", "grandstream", Some(200), 206),
                device("001565000005", "yealink", None, 0),
            ],
            ..Listing::default()
        };
        let table: &[(&str, &[&str])] = &[
            ("", &["02", "05", "03", "04", "01"]),
            ("sort=mac&dir=desc", &["05", "02", "01", "04", "03"]),
            ("sort=vendor", &["02", "05", "04", "03", "01"]),
            ("sort=last", &["02", "05", "01", "04", "03"]),
            ("sort=last&dir=asc", &["02", "05", "03", "04", "01"]),
            ("sort=status&dir=desc", &["02", "05", "03", "04", "01"]),
            ("q=YEALINK", &["05", "01"]),
            ("q=00:15:65:00:00:01", &["01"]),
            ("q=192.0.2", &["03", "04", "01"]),
            ("q=0004f2000003.cfg", &["03"]),
            ("q=nothing", &[]),
        ];
        for (query, want) in table {
            let mut listing = all.clone();
            listing.select(&Query::parse(Some(query)));
            assert_eq!(order(&listing), *want, "{query}");
        }
    }
}
