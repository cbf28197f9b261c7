//! The proxy the filter runs in, and what differs between the two it is written for.
//!
//! Envoy and nginx with Kong's ngx_wasm_module both speak proxy-wasm, but not identically, and
//! what the filter may rely on is kept here, behind one [`Proxy`] value, instead of scattered
//! `if`s. Each difference below was observed running the module in nginx 1.27.4 with
//! ngx_wasm_module 3bed278 (wasmtime 26) and read in its sources:
//!
//! * **Local response bodies**: the module appends `\n` to every body given to
//!   `send_http_response` (`ngx_http_wasm_stash_local_response`), and counts it in
//!   `Content-Length`. A body that ends in `\n` is sent without its last byte, which the module
//!   puts back; any other body (binary, encrypted) is sent as an empty answer carrying the
//!   core's `Content-Length`, and set as the body when the answer passes the filter's own
//!   `on_http_response_body` (the module runs the response phases of every filter over a local
//!   answer, and lets a filter replace the chunk: its test
//!   `116-proxy_set_http_response_body.t`). See [`local_reply`].
//! * **Removing an absent request header** crashes the nginx worker: only present headers are
//!   removed ([`removals`]).
//! * **`:authority` is read-only** under nginx: the example configuration sets the `Host` the
//!   origin expects with `proxy_set_header` instead ([`Proxy::sets_authority`]).
//! * **The request body** is read only in nginx's content phase, after the header phase: an
//!   upload must let the request go on and store the body from `on_http_request_body`
//!   ([`Proxy::body_after_headers`]).
//! * **The client certificate**: the `connection.*` certificate properties are not implemented
//!   (an alert per request); nginx's own `$ssl_client_verify` and `$ssl_client_s_dn` are read
//!   instead ([`Proxy::identity`]). nginx has no variable for the SANs.
//! * **Envoy-only names**: the route name (`xds.route_name`) and filter state
//!   (`wasm.provedge.access`) exist only in Envoy.

use serde::Deserialize;

/// The `proxy` key of the plugin configuration: which proxy the filter runs in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProxySetting {
    /// Told by the first request: nginx answers the `ngx.nginx_version` property.
    #[default]
    Auto,
    Envoy,
    Nginx,
}

impl ProxySetting {
    /// The proxy, given what the `ngx.nginx_version` property read (only asked under `Auto`).
    pub fn resolve(self, nginx_version: impl FnOnce() -> Option<Vec<u8>>) -> Proxy {
        match self {
            ProxySetting::Envoy => Proxy::Envoy,
            ProxySetting::Nginx => Proxy::Nginx,
            ProxySetting::Auto => match nginx_version() {
                Some(v) if !v.is_empty() => Proxy::Nginx,
                _ => Proxy::Envoy,
            },
        }
    }
}

/// The proxy the filter runs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proxy {
    Envoy,
    /// nginx with Kong's ngx_wasm_module.
    Nginx,
}

/// Where the client certificate's identity is read from, as property paths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdentitySource {
    /// Envoy: the verified peer certificate's subject, and its SANs.
    Connection {
        subject: &'static [&'static str],
        sans: &'static [&'static [&'static str]],
    },
    /// nginx: the subject when `$ssl_client_verify` is `SUCCESS` (nginx verified the chain
    /// against `ssl_client_certificate`); nginx exposes no SANs.
    NginxVariables {
        verify: &'static [&'static str],
        subject: &'static [&'static str],
    },
}

impl IdentitySource {
    /// The subject, when the proxy says the certificate was verified; `read` gets a property.
    pub fn subject(self, read: impl Fn(&[&str]) -> Option<String>) -> Option<String> {
        match self {
            IdentitySource::Connection { subject, .. } => read(subject),
            IdentitySource::NginxVariables { verify, subject } => (read(verify).as_deref()
                == Some("SUCCESS"))
            .then(|| read(subject))
            .flatten(),
        }
    }
}

impl Proxy {
    /// Whether `:authority` can be set on the request going upstream.
    pub fn sets_authority(self) -> bool {
        self == Proxy::Envoy
    }

    /// Whether the request body arrives only after the request is let go on from the header
    /// phase (nginx reads it in its content phase).
    pub fn body_after_headers(self) -> bool {
        self == Proxy::Nginx
    }

    /// Whether the proxy has Envoy's route names (`xds.route_name`) for per-route engines.
    pub fn has_route_names(self) -> bool {
        self == Proxy::Envoy
    }

    /// Whether the proxy keeps filter state for its access log (`wasm.provedge.access`).
    pub fn has_filter_state(self) -> bool {
        self == Proxy::Envoy
    }

    /// Where the client certificate's identity comes from.
    pub fn identity(self) -> IdentitySource {
        match self {
            Proxy::Envoy => IdentitySource::Connection {
                subject: &["connection", "subject_peer_certificate"],
                sans: &[
                    &["connection", "uri_san_peer_certificate"],
                    &["connection", "dns_san_peer_certificate"],
                ],
            },
            Proxy::Nginx => IdentitySource::NginxVariables {
                verify: &["ngx", "ssl_client_verify"],
                subject: &["ngx", "ssl_client_s_dn"],
            },
        }
    }
}

/// How a local answer's body goes out.
#[derive(Debug, PartialEq, Eq)]
pub struct LocalReply {
    /// Given to `send_http_response`.
    pub now: Option<Vec<u8>>,
    /// Set as the body when the answer passes `on_http_response_body`.
    pub later: Option<Vec<u8>>,
}

/// How to send `body` so that the phone receives exactly its bytes (and a `Content-Length`
/// that counts them) from `proxy`.
pub fn local_reply(proxy: Proxy, mut body: Vec<u8>) -> LocalReply {
    let (now, later) = match proxy {
        _ if body.is_empty() => (None, None),
        Proxy::Envoy => (Some(body), None),
        // The module appends the `\n` this body ends with; `Content-Length` counts it. (A
        // body of just `\n` would go out empty, which gets no `\n`: set in the body phase.)
        Proxy::Nginx if body.len() > 1 && body.ends_with(b"\n") => {
            body.pop();
            (Some(body), None)
        }
        Proxy::Nginx => (None, Some(body)),
    };
    LocalReply { now, later }
}

/// Of the request headers `names`, those to remove: only the ones present (`present` says),
/// since ngx_wasm_module crashes the worker removing one that is not there. Envoy gets the
/// same treatment: a removal of nothing is a host call for nothing.
pub fn removals<'a>(
    names: impl IntoIterator<Item = &'a str>,
    present: impl Fn(&str) -> bool,
) -> Vec<&'a str> {
    names.into_iter().filter(|name| present(name)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What ngx_wasm_module puts on the wire for a local response, as its
    /// `ngx_http_wasm_stash_local_response` does: the body and a `\n` when the body is not
    /// empty; with the body phase replacing the (then empty) chunk when the filter sets one.
    fn nginx_wire(reply: &LocalReply) -> Vec<u8> {
        let mut wire = match &reply.now {
            Some(body) if !body.is_empty() => {
                let mut b = body.clone();
                b.push(b'\n');
                b
            }
            _ => Vec::new(),
        };
        if let Some(later) = &reply.later {
            wire = later.clone();
        }
        wire
    }

    #[test]
    fn every_body_arrives_exactly_through_nginx() {
        let bodies: [&[u8]; 7] = [
            b"",
            b"\n",
            b"\n\n",
            b"#!version:1.0.0.1\naccount.1.enable = 1\n",
            b"no newline at the end",
            &[0x00, 0xff, 0x0a, 0x0d],
            &[0xde, 0xad, 0x0a],
        ];
        for body in bodies {
            let reply = local_reply(Proxy::Nginx, body.to_vec());
            assert_eq!(nginx_wire(&reply), body, "{body:?}");
        }
    }

    #[test]
    fn text_files_go_out_at_once_through_nginx_and_binary_ones_in_the_body_phase() {
        let text = local_reply(Proxy::Nginx, b"a = 1\n".to_vec());
        assert_eq!(text.now.as_deref(), Some(&b"a = 1"[..]));
        assert_eq!(text.later, None);
        let binary = local_reply(Proxy::Nginx, vec![1, 2, 3]);
        assert_eq!(binary.now, None);
        assert_eq!(binary.later, Some(vec![1, 2, 3]));
    }

    #[test]
    fn envoy_sends_the_body_as_it_is() {
        for body in [&b"a\n"[..], b"\x00\x01"] {
            let reply = local_reply(Proxy::Envoy, body.to_vec());
            assert_eq!(reply.now.as_deref(), Some(body));
            assert_eq!(reply.later, None);
        }
        assert_eq!(
            local_reply(Proxy::Envoy, Vec::new()),
            LocalReply {
                now: None,
                later: None
            }
        );
    }

    #[test]
    fn only_present_headers_are_removed() {
        let present = |name: &str| name == "authorization" || name == "range";
        assert_eq!(
            removals(
                ["cookie", "authorization", "if-none-match", "range"],
                present
            ),
            ["authorization", "range"]
        );
        assert!(removals(["cookie"], |_| false).is_empty());
    }

    #[test]
    fn the_proxy_is_told_by_nginx_version_unless_configured() {
        let nginx = || Some(b"1.27.4".to_vec());
        let envoy = || None;
        assert_eq!(ProxySetting::Auto.resolve(nginx), Proxy::Nginx);
        assert_eq!(ProxySetting::Auto.resolve(envoy), Proxy::Envoy);
        assert_eq!(
            ProxySetting::Auto.resolve(|| Some(Vec::new())),
            Proxy::Envoy
        );
        assert_eq!(ProxySetting::Envoy.resolve(nginx), Proxy::Envoy);
        assert_eq!(ProxySetting::Nginx.resolve(envoy), Proxy::Nginx);
    }

    #[test]
    fn envoy_only_capabilities_stay_with_envoy() {
        assert!(Proxy::Envoy.sets_authority() && !Proxy::Nginx.sets_authority());
        assert!(Proxy::Nginx.body_after_headers() && !Proxy::Envoy.body_after_headers());
        assert!(Proxy::Envoy.has_route_names() && !Proxy::Nginx.has_route_names());
        assert!(Proxy::Envoy.has_filter_state() && !Proxy::Nginx.has_filter_state());
    }

    #[test]
    fn nginx_identity_needs_a_verified_certificate() {
        let subject = "CN=001565123456,O=Phones";
        let props = |verify: &'static str| {
            move |path: &[&str]| match path {
                ["ngx", "ssl_client_verify"] => Some(verify.to_owned()),
                ["ngx", "ssl_client_s_dn"] => Some(subject.to_owned()),
                _ => None,
            }
        };
        let source = Proxy::Nginx.identity();
        assert_eq!(source.subject(props("SUCCESS")).as_deref(), Some(subject));
        assert_eq!(source.subject(props("FAILED:unable to verify")), None);
        assert_eq!(source.subject(props("NONE")), None);
        // Envoy's connection properties are never asked under nginx (the module alerts).
        let asked_connection = |path: &[&str]| {
            assert_ne!(path.first(), Some(&"connection"));
            None
        };
        assert_eq!(source.subject(asked_connection), None);
    }
}
