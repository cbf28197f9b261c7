//! The last fetches of each device, in memory, for its fleet page.
//!
//! A last-seen record says only what a device did last, and the store gets it at most once per
//! `last_seen_interval_secs`; the device page also wants the few fetches before it (the boot
//! sequence: `cfg.xml`, then `cfg<mac>.xml`, then firmware). The server feeds every request it
//! would record as seen here ([`super::super::last_seen::LastSeen::saw`]), unthrottled. Bounded
//! both ways (`server.fleet.recent_fetches` per device, `recent_devices` devices; the device
//! heard from longest ago is forgotten first), and lost on restart: this is a view, not a log.

use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use provedge::access::LastSeen;
use provedge::seeded_map::SeededMap;
use provedge::StoreKey;

/// One answered request of a device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fetch {
    /// Seconds since the Unix epoch.
    pub unix: u64,
    pub ip: Option<IpAddr>,
    pub file: String,
    pub status: u16,
    /// Shared with the device's previous fetch when it is the same (it nearly always is).
    pub user_agent: Option<Arc<str>>,
}

/// The devices' recent fetches, keyed by their last-seen key (tenant and MAC).
pub struct Recent {
    per_device: usize,
    devices: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    by_device: SeededMap<StoreKey, Slot>,
    /// Devices by when they were last heard from (a sequence number), oldest first.
    order: BTreeMap<u64, StoreKey>,
    next: u64,
}

struct Slot {
    seq: u64,
    fetches: VecDeque<Fetch>,
}

impl Recent {
    /// Keeps `per_device` fetches for up to `devices` devices; either 0 keeps nothing.
    pub fn new(per_device: usize, devices: usize) -> Recent {
        Recent {
            per_device,
            devices,
            inner: Mutex::default(),
        }
    }

    /// Remembers the request `record` describes.
    pub fn saw(&self, record: &LastSeen) {
        if self.per_device == 0 || self.devices == 0 {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let inner = &mut *inner;
        let seq = inner.next;
        inner.next += 1;
        let key = record.key();
        if !inner.by_device.contains_key(key) && inner.by_device.len() >= self.devices {
            if let Some((_, oldest)) = inner.order.pop_first() {
                inner.by_device.remove(&oldest);
            }
        }
        let slot = inner.by_device.entry(key.clone()).or_insert_with(|| Slot {
            seq,
            fetches: VecDeque::new(),
        });
        inner.order.remove(&slot.seq);
        slot.seq = seq;
        inner.order.insert(seq, key.clone());
        let user_agent = match (slot.fetches.back(), &record.user_agent) {
            (
                Some(Fetch {
                    user_agent: Some(last),
                    ..
                }),
                Some(ua),
            ) if **last == **ua => Some(Arc::clone(last)),
            (_, ua) => ua.as_deref().map(Arc::from),
        };
        if slot.fetches.len() >= self.per_device {
            slot.fetches.pop_front();
        }
        slot.fetches.push_back(Fetch {
            unix: record.unix,
            ip: record.ip,
            file: record.file.clone(),
            status: record.status,
            user_agent,
        });
    }

    /// The device's remembered fetches, newest first.
    pub fn of(&self, key: &StoreKey) -> Vec<Fetch> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner
            .by_device
            .get(key)
            .map(|slot| slot.fetches.iter().rev().cloned().collect())
            .unwrap_or_default()
    }

    /// How many devices are remembered.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .by_device
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use provedge::access::{Done, Trail};
    use provedge::{Decision, Engine, Lookup, Request};

    /// The last-seen record the core makes of a GET of `cfg<mac>.xml` for a known device.
    fn seen(mac: &str, unix: u64) -> LastSeen {
        let engine = Engine::default();
        let req = Request::get(format!("/cfg{mac}.xml")).with_header(
            "User-Agent",
            "Grandstream Model HW GXP2170 V2.4B SW 1.0.11.3",
        );
        let record = format!(r#"{{"mac":"{mac}","vendor":"grandstream"}}"#);
        let mut trail = Trail::default();
        let mut decision = engine.handle(&req, unix);
        loop {
            trail.saw(&decision);
            decision = match decision {
                Decision::Fetch(f) => {
                    let answers: Vec<_> = f
                        .keys()
                        .iter()
                        .map(|k| {
                            let found = if k.as_str().starts_with("devices/") {
                                Lookup::Found(record.clone().into_bytes().into())
                            } else if k.as_str().ends_with("cfg@mac.pvalues") {
                                Lookup::Found(b"P1 = 1\n".into())
                            } else {
                                Lookup::Missing
                            };
                            (k.clone(), found)
                        })
                        .collect();
                    f.resume(&engine, answers)
                }
                _ => break,
            };
        }
        let done = Done {
            arrived_ms: unix * 1000,
            client: "192.0.2.7".parse().ok(),
            status: 200,
            bytes: 1,
            duration_us: 1,
        };
        trail
            .record(&engine, &req, done)
            .last_seen()
            .expect("a known device is seen")
    }

    #[test]
    fn keeps_the_last_fetches_of_the_devices_heard_from_last() {
        let recent = Recent::new(2, 2);
        let a = seen("000b82000001", 100);
        recent.saw(&a);
        recent.saw(&seen("000b82000001", 101));
        recent.saw(&seen("000b82000001", 102));
        let fetches = recent.of(a.key());
        assert_eq!(
            fetches.iter().map(|f| f.unix).collect::<Vec<_>>(),
            [102, 101]
        );
        // The same User-Agent is held once.
        let (first, second) = (&fetches[0].user_agent, &fetches[1].user_agent);
        assert!(Arc::ptr_eq(
            first.as_ref().unwrap(),
            second.as_ref().unwrap()
        ));
        recent.saw(&seen("000b82000002", 103));
        // Device 1 was heard from again, so device 2 is the oldest when a third arrives.
        recent.saw(&seen("000b82000001", 104));
        recent.saw(&seen("000b82000003", 105));
        assert_eq!(recent.len(), 2);
        assert!(recent.of(seen("000b82000002", 0).key()).is_empty());
        assert_eq!(recent.of(a.key())[0].unix, 104);
        let off = Recent::new(0, 10);
        off.saw(&a);
        assert!(off.of(a.key()).is_empty());
    }
}
