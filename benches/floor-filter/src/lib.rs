//! The floor filter: answers every request with the body its plugin configuration holds and
//! fixed headers, through `send_http_response`. The body is read once, at configure time; the
//! per-request path copies nothing it does not have to.
//!
//! A configuration that starts with the line `calls` makes the second floor: the same answer,
//! after the host calls provedge's render mode makes for every request and with its response
//! headers (see [`Calls`]). What Envoy spends on those calls is then part of the floor, so the
//! two floors together say how much of render mode's cost is Envoy answering the filter's
//! questions and how much is the filter's own work.

use std::rc::Rc;

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel, MetricType};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> {
        Box::new(Floor { body: Rc::new(Vec::new()), calls: None })
    });
}}

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
    body: Rc<Vec<u8>>,
    calls: Option<Calls>,
}

impl Context for Floor {}

impl RootContext for Floor {
    fn on_configure(&mut self, _size: usize) -> bool {
        let config = self.get_plugin_configuration().unwrap_or_default();
        let body = match config.strip_prefix(b"calls\n") {
            Some(body) => {
                let Ok(counter) = hostcalls::define_metric(MetricType::Counter, "floor.requests")
                else {
                    return false;
                };
                self.calls = Some(Calls { counter });
                body.to_vec()
            }
            None => config,
        };
        if body.is_empty() {
            hostcalls::log(
                LogLevel::Error,
                "floor-filter: the configuration (the body to answer) is empty",
            )
            .ok();
            return false;
        }
        self.body = Rc::new(body);
        true
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Answer {
            body: Rc::clone(&self.body),
            calls: self.calls,
        }))
    }
}

struct Answer {
    body: Rc<Vec<u8>>,
    calls: Option<Calls>,
}

impl Context for Answer {}

impl HttpContext for Answer {
    fn on_http_request_headers(&mut self, _headers: usize, _end_of_stream: bool) -> Action {
        let mut headers = vec![("content-type", "text/xml; charset=utf-8")];
        if let Some(calls) = self.calls {
            for path in [
                vec!["xds", "route_name"],
                vec!["source", "address"],
                vec!["connection", "subject_peer_certificate"],
            ] {
                std::hint::black_box(self.get_property(path));
            }
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
        }
        self.send_http_response(200, headers, Some(&self.body));
        Action::Pause
    }

    fn on_log(&mut self) {
        if self.calls.is_some() {
            std::hint::black_box(self.get_current_time());
            hostcalls::log(LogLevel::Info, &format!("floor access {RECORD}")).ok();
        }
    }
}
