//! `SIGHUP`: the configuration file read again and put in force without a restart, as
//! `nginx -s reload` does, for what an operator changes while phones are being served: the
//! engine's configuration (policy, tenants, URL tokens, routes, mode, rules) and the HTTPS
//! listener's certificate, key and client CA (a renewed certificate, a new phones' CA).
//!
//! All or nothing: the file is read and checked, its engine built and its certificates loaded
//! before anything is swapped, so a file that fails any of it changes nothing; the error names
//! the file and the key as at start. A request already running finishes with the engine it
//! began with. The new engine starts with empty caches: its rendered files, records and last
//! good answers were made under the old configuration, which may have allowed what the new one
//! refuses.
//!
//! What a running server cannot change (its listeners, and every other key under `server`:
//! bounds, timeouts, caches, the upstream, the fleet page) is compared with the file the
//! server started with; each key that differs is named on stderr as waiting for the next
//! restart, and the rest of the reload applies (as PostgreSQL does with its
//! restart-only settings), so an unrelated edit never holds back a policy change.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Map, Value};
use tokio::sync::watch;

use super::config;
use super::http::State;
use super::tls;

/// The file to read again, the `server` part the server started with, as written, and the
/// phone listeners' addresses (for the warnings a start gives too).
pub struct Reloader {
    path: PathBuf,
    started: Map<String, Value>,
    listeners: Vec<SocketAddr>,
}

/// A reload put in force.
#[derive(Debug)]
pub struct Applied {
    /// `server` keys (`server.max_connections`, `server.tls.listen`) that changed in the file
    /// and take effect only at the next restart.
    pub at_restart: Vec<String>,
    /// What the new configuration leaves open, as a start would warn.
    pub warnings: Vec<String>,
}

impl Reloader {
    pub fn new(path: PathBuf, started: Map<String, Value>, listeners: Vec<SocketAddr>) -> Reloader {
        Reloader {
            path,
            started,
            listeners,
        }
    }

    /// Reads the file again and puts it in force, or changes nothing and says why.
    pub fn reload(&self, state: &State) -> Result<Applied, String> {
        let at = |e: String| format!("{}: {e}", self.path.display());
        let loaded = config::load_file(&self.path)?;
        if loaded.engine.mode != provedge::Mode::Serve && state.upstream.is_none() {
            return Err(at(
                "engine.mode: needs server.upstream, which the running server was started \
                 without (an upstream takes effect at the next restart)"
                    .into(),
            ));
        }
        let warnings = super::open_policy_warnings(&loaded.engine, &self.listeners);
        let trusted_proxies = loaded.engine.policy.trusted_proxies.clone();
        let engine =
            provedge::Engine::new(loaded.engine).map_err(|e| at(e.within("engine").to_string()))?;
        let acceptor = match (&state.tls, &loaded.server.tls) {
            (Some(_), Some(tls)) => Some(tls::acceptor(tls).map_err(at)?),
            // A listener added or removed waits for a restart (named below).
            _ => None,
        };
        // Everything is built: from here on nothing can fail.
        state.engine.store(Arc::new(engine));
        if let (Some(live), Some(acceptor)) = (&state.tls, acceptor) {
            live.store(Arc::new(acceptor));
        }
        state.clients.exempt(trusted_proxies);
        Ok(Applied {
            at_restart: at_restart(&self.started, &loaded.server_json),
            warnings,
        })
    }

    /// What an operator reads on stderr after a reload: the warnings a start would give, then
    /// one line that says what happened.
    fn report(&self, outcome: &Result<Applied, String>) -> String {
        match outcome {
            Ok(Applied {
                at_restart,
                warnings,
            }) => {
                let mut lines = warnings.clone();
                lines.push(match at_restart.as_slice() {
                    [] => format!("reloaded {}", self.path.display()),
                    keys => format!(
                        "reloaded {}; at the next restart: {}",
                        self.path.display(),
                        keys.join(", ")
                    ),
                });
                lines.join("\n")
            }
            Err(e) => format!("reload failed, the configuration in force stays: {e}"),
        }
    }
}

/// The `server` keys whose values differ between the two files. Under `tls`, only `listen`
/// waits for a restart (the certificate, key and client CA are reloaded), and so does adding
/// or removing `tls` as a whole. An absent key and `null` are the same.
fn at_restart(started: &Map<String, Value>, now: &Map<String, Value>) -> Vec<String> {
    let keys: BTreeSet<&String> = started.keys().chain(now.keys()).collect();
    keys.into_iter()
        .filter_map(|key| {
            let (before, after) = (value(started, key), value(now, key));
            if let ("tls", Value::Object(before), Value::Object(after)) =
                (key.as_str(), before, after)
            {
                let moved = before.get("listen") != after.get("listen");
                return moved.then(|| "server.tls.listen".to_owned());
            }
            (before != after).then(|| format!("server.{key}"))
        })
        .collect()
}

/// A key's value in a file's `server` part; absent is `null`.
fn value<'a>(file: &'a Map<String, Value>, key: &str) -> &'a Value {
    file.get(key).unwrap_or(&Value::Null)
}

/// Reloads on every SIGHUP until the server stops. Without a configuration file there is
/// nothing to read again, which is said instead; either way a SIGHUP no longer ends the process
/// (its default action), so `systemctl reload` or `kill -HUP` is always safe.
#[cfg(unix)]
pub async fn on_hangup(
    reloader: Option<Reloader>,
    state: Arc<State>,
    mut hangups: tokio::signal::unix::Signal,
    mut stopping: watch::Receiver<bool>,
) {
    let reloader = reloader.map(Arc::new);
    loop {
        tokio::select! {
            got = hangups.recv() => if got.is_none() { return },
            _ = stopping.wait_for(|stop| *stop) => return,
        }
        let Some(reloader) = &reloader else {
            eprintln!("reload: no --config file, nothing to read again");
            continue;
        };
        let (reloader, on) = (Arc::clone(reloader), Arc::clone(&state));
        // Reading files and compiling rules: off the event loop.
        let outcome = tokio::task::spawn_blocking(move || {
            let outcome = reloader.reload(&on);
            on.metrics.reloaded(outcome.is_ok(), crate::unix_now());
            reloader.report(&outcome)
        })
        .await;
        match outcome {
            Ok(line) => eprintln!("{line}"),
            Err(e) => eprintln!("reload failed, the configuration in force stays: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(json: &str) -> Map<String, Value> {
        match serde_json::from_str(json).unwrap() {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    #[test]
    fn names_the_server_keys_that_changed_and_only_the_listen_of_tls() {
        let started = server(
            r#"{"max_connections": 10, "workers": 2, "metrics_token": null,
                "tls": {"listen": "127.0.0.1:8443", "cert": "a.pem", "key": "a.key"}}"#,
        );
        let same = server(
            r#"{"max_connections": 10, "workers": 2,
                "tls": {"listen": "127.0.0.1:8443", "cert": "b.pem", "key": "b.key"}}"#,
        );
        assert_eq!(at_restart(&started, &same), Vec::<String>::new());
        let changed = server(
            r#"{"max_connections": 20, "shutdown_grace_secs": 1,
                "tls": {"listen": "127.0.0.1:9443", "cert": "a.pem", "key": "a.key"}}"#,
        );
        assert_eq!(
            at_restart(&started, &changed),
            [
                "server.max_connections",
                "server.shutdown_grace_secs",
                "server.tls.listen",
                "server.workers"
            ]
        );
        let no_tls = server(r#"{"max_connections": 10, "workers": 2}"#);
        assert_eq!(at_restart(&started, &no_tls), ["server.tls"]);
    }
}
