//! The core's access record of each request, emitted the proxy's way, and the device's
//! last-seen record written to the origin.
//!
//! * **The record** ([`provedge::access::AccessRecord`]) is made when the response head goes
//!   out (local answer, or the upstream's answer passing through the filter): the core's
//!   [`Trail`](provedge::access::Trail) of the decisions, with the status, body bytes and the
//!   time to the head. It becomes filter state at once ([`FILTER_STATE`]: Envoy's access log
//!   reads it as `%FILTER_STATE(wasm.provedge.access:PLAIN)%`, whichever order Envoy runs its
//!   access loggers and the filter's `on_log` in), and one line of the proxy's log at the end
//!   of the request (`on_log`): `provedge access {…}` at info level.
//! * **Last-seen**: a record of a device the engine knows carries its
//!   [`LastSeen`]; when the VM's [`LastSeenMarks`] say it is due, it is queued here and the
//!   root context `PUT`s it to the origin under its key (signed like an upload) on its next
//!   tick. The root, not the request, sends it: a request's context is gone (and Envoy cancels
//!   its calls) as soon as it is logged, and the phone never waits for the write.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;

use provedge::access::{LastSeen, LastSeenMarks};
use provedge::StoreKey;
use serde::Deserialize;

/// The property the record is set as. Envoy keeps a wasm filter's property `p` as filter
/// state `wasm.p`; ngx_wasm_module refuses names outside its namespaces, which is why
/// [`set_filter_state`] ignores a refusal instead of trapping as the SDK's `set_property` does.
pub const FILTER_STATE: &str = "provedge.access";

/// Last-seen records waiting for the root's tick, at most: a burst of phones booting at once
/// drops (and counts) the rest rather than holding memory for them.
const MAX_QUEUED: usize = 256;

/// Last-seen `PUT`s in flight at once, at most: a slow origin is not flooded.
const MAX_IN_FLIGHT: usize = 16;

/// `last_seen` in the plugin configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LastSeenConfig {
    /// Write last-seen records to the origin at all (`false` for an origin that takes no
    /// `PUT`; uploads need one anyway).
    pub write: bool,
    /// At most one write per device per this many seconds. Each VM (one per Envoy worker
    /// thread) keeps its own marks, so a device asking through several workers may be written
    /// once per worker per interval.
    pub interval_secs: u64,
    /// Devices whose last write a VM remembers (the marks' memory bound); past it, devices
    /// wait until older marks are due.
    pub max_devices: usize,
}

impl Default for LastSeenConfig {
    fn default() -> LastSeenConfig {
        LastSeenConfig {
            write: true,
            interval_secs: 300,
            max_devices: 10_000,
        }
    }
}

/// What becomes of a last-seen record offered to [`LastSeenWrites::offer`].
#[derive(Debug, PartialEq, Eq)]
pub enum Offered {
    Queued,
    /// Written less than the interval ago, or writes are off.
    NotDue,
    /// The queue is full.
    Dropped,
}

/// The VM's last-seen writes: the marks of when each device was written, and the records
/// waiting for the root context to send them.
pub struct LastSeenWrites {
    write: bool,
    marks: LastSeenMarks,
    queue: RefCell<VecDeque<(StoreKey, Vec<u8>)>>,
    in_flight: Cell<usize>,
}

impl LastSeenWrites {
    pub fn new(config: &LastSeenConfig) -> LastSeenWrites {
        LastSeenWrites {
            write: config.write,
            marks: LastSeenMarks::new(config.interval_secs, config.max_devices),
            queue: RefCell::new(VecDeque::new()),
            in_flight: Cell::new(0),
        }
    }

    /// Whether the root context must tick to send them.
    pub fn enabled(&self) -> bool {
        self.write
    }

    /// Queues the update at `key` when the device is due at `now` (seconds); `seen` builds
    /// it, only then (most requests of a known device are not due).
    pub fn offer(
        &self,
        key: &StoreKey,
        now: u64,
        seen: impl FnOnce() -> Option<LastSeen>,
    ) -> Offered {
        if !self.write || !self.marks.due(key, now) {
            return Offered::NotDue;
        }
        let mut queue = self.queue.borrow_mut();
        if queue.len() >= MAX_QUEUED {
            return Offered::Dropped;
        }
        let Some(seen) = seen() else {
            return Offered::NotDue;
        };
        queue.push_back((key.clone(), seen.to_json()));
        Offered::Queued
    }

    /// The next record to send, while fewer than [`MAX_IN_FLIGHT`] are in flight.
    pub fn next(&self) -> Option<(StoreKey, Vec<u8>)> {
        if self.in_flight.get() >= MAX_IN_FLIGHT {
            return None;
        }
        self.queue.borrow_mut().pop_front()
    }

    /// One more write went out.
    pub fn sent(&self) {
        self.in_flight.set(self.in_flight.get() + 1);
    }

    /// A write came back (answered or failed).
    pub fn settled(&self) {
        self.in_flight.set(self.in_flight.get().saturating_sub(1));
    }
}

/// Sets the property `name` of the current request to `value` (Envoy: filter state
/// `wasm.<name>`), ignoring a host that refuses: the record is also in the log, and a refusal
/// must not trap the VM (the SDK's `set_property` panics on any status but `Ok`).
#[cfg(target_arch = "wasm32")]
pub fn set_filter_state(name: &str, value: &[u8]) {
    extern "C" {
        fn proxy_set_property(
            path_data: *const u8,
            path_size: usize,
            value_data: *const u8,
            value_size: usize,
        ) -> u32;
    }
    // SAFETY: the host reads `path_size` bytes from `path_data` and `value_size` bytes from
    // `value_data` during the call only, and both slices outlive it; the status it returns is
    // a plain integer, ignored on purpose.
    let _status =
        unsafe { proxy_set_property(name.as_ptr(), name.len(), value.as_ptr(), value.len()) };
}

/// Outside a proxy (the unit tests) there is no filter state.
#[cfg(not(target_arch = "wasm32"))]
pub fn set_filter_state(_name: &str, _value: &[u8]) {}

#[cfg(test)]
mod tests {
    use super::*;
    use provedge::access::{Done, Trail};
    use provedge::{Decision, Engine, Lookup, Request};

    /// The last-seen record of the example Grandstream asking for its file.
    fn seen() -> LastSeen {
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
                            let found = match k.as_str() {
                                "devices/000b82123456.json" => Lookup::Found(
                                    br#"{"mac":"000b82123456","vendor":"grandstream"}"#.into(),
                                ),
                                "templates/grandstream/cfg@mac.pvalues" => {
                                    Lookup::Found(b"P1 = 1\n".into())
                                }
                                _ => Lookup::Missing,
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
            arrived_ms: 1_800_000_000_000,
            client: None,
            status: 200,
            bytes: 1,
            duration_us: 1,
        };
        let record = trail.record(&engine, &req, done);
        record.last_seen().expect("a known device")
    }

    #[test]
    fn writes_are_due_once_per_interval_and_bounded() {
        let seen = seen();
        let offer =
            |writes: &LastSeenWrites, now| writes.offer(seen.key(), now, || Some(seen.clone()));
        let writes = LastSeenWrites::new(&LastSeenConfig::default());
        assert_eq!(offer(&writes, 1000), Offered::Queued);
        assert_eq!(offer(&writes, 1100), Offered::NotDue);
        let (key, body) = writes.next().unwrap();
        assert_eq!(key.as_str(), "last-seen/000b82123456.json");
        assert!(String::from_utf8(body)
            .unwrap()
            .contains("\"vendor\": \"grandstream\""));
        assert!(writes.next().is_none());
        // In flight: at most MAX_IN_FLIGHT at once.
        for i in 0..MAX_IN_FLIGHT {
            writes.sent();
            assert_eq!(offer(&writes, 1300 + 300 * i as u64), Offered::Queued);
        }
        assert!(writes.next().is_none(), "too many in flight");
        writes.settled();
        assert!(writes.next().is_some());
        // Queued: at most MAX_QUEUED.
        let full = LastSeenWrites::new(&LastSeenConfig {
            interval_secs: 0,
            ..LastSeenConfig::default()
        });
        for _ in 0..MAX_QUEUED {
            assert_eq!(offer(&full, 1), Offered::Queued);
        }
        assert_eq!(offer(&full, 1), Offered::Dropped);
        let off = LastSeenWrites::new(&LastSeenConfig {
            write: false,
            ..LastSeenConfig::default()
        });
        assert_eq!(offer(&off, 1), Offered::NotDue);
        assert!(!off.enabled());
    }
}
