//! The floor filter, the least a proxy-wasm filter costs Envoy. By default it answers every
//! request with the body its plugin configuration holds and fixed headers, through
//! `send_http_response`. The body is read once, at configure time; the per-request path copies
//! nothing it does not have to.
//!
//! A configuration that starts with the line `calls` makes the second floor: the same answer,
//! after the host calls provedge's render mode makes for every request and with its response
//! headers (see [`Calls`]). What Envoy spends on those calls is then part of the floor, so the
//! two floors together say how much of render mode's cost is Envoy answering the filter's
//! questions and how much is the filter's own work.
//!
//! Rewrite mode's floors: the line `pass` alone makes a filter that lets every request through
//! untouched (the least any filter in front of Envoy's router costs), and `pass-calls` followed
//! by a path makes it first do what rewrite mode does per request once its rules are loaded:
//! the same host calls, `:path` replaced by that path (see [`Mode::PassCalls`]).

use std::rc::Rc;

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel, MetricType};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> {
        Box::new(Floor { mode: Mode::Pass })
    });
}}

/// What the filter does with each request, from its configuration.
#[derive(Clone)]
enum Mode {
    /// Answers the body.
    Answer(Rc<Vec<u8>>),
    /// Answers the body after render mode's host calls.
    AnswerCalls(Rc<Vec<u8>>, Calls),
    /// Lets the request through.
    Pass,
    /// Lets the request through after rewrite mode's host calls, its `:path` replaced by this
    /// one. (Counted by benches/filter-v8/host.js with `PHASES=1 ROUTE=rewrite`: three property
    /// reads, the request headers, two clock reads, one header replaced, the access record as
    /// filter state and logged at info level at the end.)
    PassCalls(Rc<str>),
}

/// The host calls provedge's render mode makes per request once its cache is warm (counted by
/// benches/filter-v8/host.js with `PHASES=1`): three property reads (the route name, the client
/// address, the client certificate's subject), the request headers, four clock reads, two
/// counters, the access record as filter state, and the record logged at info level at the end.
#[derive(Clone, Copy)]
struct Calls {
    counter: u32,
}

/// An access record of about provedge's size, set as filter state like provedge's.
const RECORD: &str = r#"{"time":"2026-12-01T06:17:40.123Z","client":"127.0.0.1","method":"GET","status":200,"bytes":736,"duration_us":24,"vendor":"grandstream","scope":"device","kind":"config","mac":"000b82123456","model":"gxp2170","file":"cfg000b82123456.xml","cache":"hit","note":"rendered from the render cache"}"#;

struct Floor {
    mode: Mode,
}

impl Context for Floor {}

impl RootContext for Floor {
    fn on_configure(&mut self, _size: usize) -> bool {
        let config = self.get_plugin_configuration().unwrap_or_default();
        let mode = if config == b"pass" || config == b"pass\n" {
            Some(Mode::Pass)
        } else if let Some(path) = config.strip_prefix(b"pass-calls\n") {
            std::str::from_utf8(path)
                .ok()
                .map(str::trim)
                .filter(|p| p.starts_with('/'))
                .map(|p| Mode::PassCalls(p.into()))
        } else if let Some(body) = config.strip_prefix(b"calls\n") {
            let counter = hostcalls::define_metric(MetricType::Counter, "floor.requests").ok();
            counter
                .filter(|_| !body.is_empty())
                .map(|counter| Mode::AnswerCalls(Rc::new(body.to_vec()), Calls { counter }))
        } else {
            Some(config)
                .filter(|body| !body.is_empty())
                .map(|body| Mode::Answer(Rc::new(body)))
        };
        match mode {
            Some(mode) => {
                self.mode = mode;
                true
            }
            None => {
                hostcalls::log(
                    LogLevel::Error,
                    "floor-filter: the configuration is a body to answer, `calls` and a body, \
                     `pass`, or `pass-calls` and a path",
                )
                .ok();
                false
            }
        }
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Request {
            mode: self.mode.clone(),
        }))
    }
}

/// One request's context.
struct Request {
    mode: Mode,
}

impl Request {
    /// The three property reads both of provedge's modes make: the route's name, the client's
    /// address, the client certificate's subject.
    fn read_properties(&self) {
        for path in [
            vec!["xds", "route_name"],
            vec!["source", "address"],
            vec!["connection", "subject_peer_certificate"],
        ] {
            std::hint::black_box(self.get_property(path));
        }
    }
}

impl Context for Request {}

impl HttpContext for Request {
    fn on_http_request_headers(&mut self, _headers: usize, _end_of_stream: bool) -> Action {
        let mut headers = vec![("content-type", "text/xml; charset=utf-8")];
        let body = match &self.mode {
            Mode::Pass => return Action::Continue,
            Mode::PassCalls(path) => {
                self.read_properties();
                std::hint::black_box(self.get_http_request_headers_bytes());
                std::hint::black_box(self.get_current_time());
                self.set_http_request_header(":path", Some(path));
                hostcalls::set_property(vec!["floor.access"], Some(RECORD.as_bytes())).ok();
                return Action::Continue;
            }
            Mode::Answer(body) => Rc::clone(body),
            Mode::AnswerCalls(body, calls) => {
                self.read_properties();
                std::hint::black_box(self.get_http_request_headers_bytes());
                for _ in 0..3 {
                    std::hint::black_box(self.get_current_time());
                }
                for _ in 0..2 {
                    hostcalls::increment_metric(calls.counter, 1).ok();
                }
                hostcalls::set_property(vec!["floor.access"], Some(RECORD.as_bytes())).ok();
                headers.push(("etag", "\"b28641c3626d2763bff14956d07bfc28\""));
                headers.push(("cache-control", "private, no-store"));
                Rc::clone(body)
            }
        };
        self.send_http_response(200, headers, Some(&body));
        Action::Pause
    }

    fn on_log(&mut self) {
        if matches!(self.mode, Mode::AnswerCalls(..) | Mode::PassCalls(_)) {
            std::hint::black_box(self.get_current_time());
            hostcalls::log(LogLevel::Info, &format!("floor access {RECORD}")).ok();
        }
    }
}
