//! Prometheus metrics, in the text exposition format, hand-rolled: a counter map and three
//! fixed-bucket histograms cost a lock and a few atomic adds per request.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Histogram bucket bounds, in seconds: 10 µs to 1 s.
const BOUNDS: [f64; 14] = [
    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025,
    0.05, 0.25, 1.0,
];

#[derive(Default)]
struct Histogram {
    /// Per bucket (not cumulative); the last counts what exceeds every bound.
    buckets: [AtomicU64; BOUNDS.len() + 1],
    sum_ns: AtomicU64,
}

impl Histogram {
    fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = BOUNDS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(BOUNDS.len());
        if let Some(bucket) = self.buckets.get(i) {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }

    fn write(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut total = 0;
        for (i, bucket) in self.buckets.iter().enumerate() {
            total += bucket.load(Ordering::Relaxed);
            match BOUNDS.get(i) {
                Some(bound) => {
                    let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {total}");
                }
                None => {
                    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {total}");
                }
            }
        }
        let sum = self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {total}");
    }
}

/// Gauges read at scrape time from their owners.
pub struct Gauges {
    pub store_cache_files: usize,
    pub store_cache_bytes: usize,
    pub render_cache_files: usize,
    pub log_lines_dropped: u64,
    pub last_seen_written: u64,
    pub last_seen_dropped: u64,
    pub checksum_cache_files: usize,
    pub uploads_bytes: u64,
}

#[derive(Default)]
pub struct Metrics {
    /// (vendor, kind, status) → requests.
    requests: Mutex<BTreeMap<(&'static str, &'static str, u16), u64>>,
    render: Histogram,
    store: Histogram,
    request: Histogram,
    connections_open: AtomicU64,
    connections_total: AtomicU64,
    tls_handshake_failures: AtomicU64,
    connections_refused: AtomicU64,
    reloads_applied: AtomicU64,
    reloads_failed: AtomicU64,
    /// The last reload failed (its file was refused); cleared by one that succeeds.
    last_reload_failed: AtomicBool,
    /// When the configuration in force was loaded, at start or by a reload (Unix seconds).
    config_loaded_unix: AtomicU64,
}

impl Metrics {
    pub fn request(&self, vendor: &'static str, kind: &'static str, status: u16, took: Duration) {
        if let Ok(mut map) = self.requests.lock() {
            *map.entry((vendor, kind, status)).or_default() += 1;
        }
        self.request.observe(took);
    }

    /// Time spent in the engine (routing, rendering) for one request.
    pub fn render(&self, took: Duration) {
        self.render.observe(took);
    }

    /// Time spent reading the store for one request.
    pub fn store(&self, took: Duration) {
        self.store.observe(took);
    }

    pub fn connection_opened(&self) {
        self.connections_open.fetch_add(1, Ordering::Relaxed);
        self.connections_total.fetch_add(1, Ordering::Relaxed);
    }

    pub fn connection_closed(&self) {
        self.connections_open.fetch_sub(1, Ordering::Relaxed);
    }

    /// A connection closed at accept: its client was at `max_connections_per_ip`.
    pub fn connection_refused(&self) {
        self.connections_refused.fetch_add(1, Ordering::Relaxed);
    }

    pub fn tls_handshake_failed(&self) {
        self.tls_handshake_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// A configuration put in force at `unix`, at start or by a reload.
    pub fn configured(&self, unix: u64) {
        self.config_loaded_unix.store(unix, Ordering::Relaxed);
        self.last_reload_failed.store(false, Ordering::Relaxed);
    }

    /// A SIGHUP's outcome at `unix`: the new configuration in force, or refused (the old one
    /// stays, and the failure shows until a reload succeeds).
    pub fn reloaded(&self, applied: bool, unix: u64) {
        if applied {
            self.reloads_applied.fetch_add(1, Ordering::Relaxed);
            self.configured(unix);
        } else {
            self.reloads_failed.fetch_add(1, Ordering::Relaxed);
            self.last_reload_failed.store(true, Ordering::Relaxed);
        }
    }

    /// The exposition text.
    pub fn render_text(&self, gauges: &Gauges) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str(
            "# HELP provedge_requests_total Requests answered, by vendor, kind and status.\n\
             # TYPE provedge_requests_total counter\n",
        );
        if let Ok(map) = self.requests.lock() {
            for ((vendor, kind, status), n) in map.iter() {
                let _ = writeln!(
                    out,
                    "provedge_requests_total{{vendor=\"{vendor}\",kind=\"{kind}\",status=\"{status}\"}} {n}"
                );
            }
        }
        self.request.write(
            &mut out,
            "provedge_request_duration_seconds",
            "Time from a request's arrival to its response head.",
        );
        self.render.write(
            &mut out,
            "provedge_render_seconds",
            "Time in the engine (route, policy, render) per request.",
        );
        self.store.write(
            &mut out,
            "provedge_store_seconds",
            "Time reading the store per request that read it.",
        );
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        out.push_str(
            "# HELP provedge_config_reloads_total Configuration reloads (SIGHUP), by result: \
             applied, or failed (the configuration in force stayed).\n\
             # TYPE provedge_config_reloads_total counter\n",
        );
        for (result, counter) in [
            ("applied", &self.reloads_applied),
            ("failed", &self.reloads_failed),
        ] {
            let _ = writeln!(
                out,
                "provedge_config_reloads_total{{result=\"{result}\"}} {}",
                load(counter)
            );
        }
        let simple: [(&str, &str, &str, u64); 14] = [
            (
                "provedge_config_last_reload_successful",
                "gauge",
                "1 unless the last reload (SIGHUP) was refused, until one succeeds.",
                u64::from(!self.last_reload_failed.load(Ordering::Relaxed)),
            ),
            (
                "provedge_config_loaded_timestamp_seconds",
                "gauge",
                "When the configuration in force was loaded, at start or by a reload (Unix time).",
                load(&self.config_loaded_unix),
            ),
            (
                "provedge_connections_open",
                "gauge",
                "Open client connections.",
                load(&self.connections_open),
            ),
            (
                "provedge_connections_total",
                "counter",
                "Client connections accepted.",
                load(&self.connections_total),
            ),
            (
                "provedge_connections_refused_total",
                "counter",
                "Connections closed at accept: their client was at max_connections_per_ip.",
                load(&self.connections_refused),
            ),
            (
                "provedge_tls_handshake_failures_total",
                "counter",
                "Connections to the HTTPS listener whose TLS handshake failed.",
                load(&self.tls_handshake_failures),
            ),
            (
                "provedge_store_cache_files",
                "gauge",
                "Files held by the store cache.",
                gauges.store_cache_files as u64,
            ),
            (
                "provedge_store_cache_bytes",
                "gauge",
                "Bytes held by the store cache.",
                gauges.store_cache_bytes as u64,
            ),
            (
                "provedge_render_cache_files",
                "gauge",
                "Rendered files held by the engine.",
                gauges.render_cache_files as u64,
            ),
            (
                "provedge_log_lines_dropped_total",
                "counter",
                "Access log lines dropped because stdout fell behind.",
                gauges.log_lines_dropped,
            ),
            (
                "provedge_last_seen_writes_total",
                "counter",
                "Last-seen records written.",
                gauges.last_seen_written,
            ),
            (
                "provedge_last_seen_dropped_total",
                "counter",
                "Last-seen records not written (queue full, bound reached, write failed).",
                gauges.last_seen_dropped,
            ),
            (
                "provedge_checksum_cache_files",
                "gauge",
                "Stored files whose checksum is kept.",
                gauges.checksum_cache_files as u64,
            ),
            (
                "provedge_uploads_bytes",
                "gauge",
                "Bytes phone uploads hold in the store (bounded by uploads_max_total_bytes).",
                gauges.uploads_bytes,
            ),
        ];
        for (name, kind, help, value) in simple {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposes_counters_and_cumulative_buckets() {
        let m = Metrics::default();
        m.request("yealink", "config", 200, Duration::from_micros(30));
        m.request("yealink", "config", 200, Duration::from_millis(3));
        m.render(Duration::from_secs(2));
        let text = m.render_text(&Gauges {
            store_cache_files: 1,
            store_cache_bytes: 2,
            render_cache_files: 3,
            log_lines_dropped: 0,
            last_seen_written: 0,
            last_seen_dropped: 0,
            checksum_cache_files: 0,
            uploads_bytes: 5,
        });
        assert!(text.contains(
            "provedge_requests_total{vendor=\"yealink\",kind=\"config\",status=\"200\"} 2\n"
        ));
        assert!(text.contains("provedge_request_duration_seconds_bucket{le=\"0.00005\"} 1\n"));
        assert!(text.contains("provedge_request_duration_seconds_bucket{le=\"+Inf\"} 2\n"));
        assert!(text.contains("provedge_render_seconds_bucket{le=\"1\"} 0\n"));
        assert!(text.contains("provedge_render_seconds_count 1\n"));
        assert!(text.contains("provedge_store_cache_bytes 2\n"));
        assert!(text.contains("provedge_uploads_bytes 5\n"));
    }
}
