//! The floor filter: answers every request with the body its plugin configuration holds and
//! fixed headers, through `send_http_response`. The body is read once, at configure time; the
//! per-request path copies nothing it does not have to.

use std::rc::Rc;

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> {
        Box::new(Floor { body: Rc::new(Vec::new()) })
    });
}}

struct Floor {
    body: Rc<Vec<u8>>,
}

impl Context for Floor {}

impl RootContext for Floor {
    fn on_configure(&mut self, _size: usize) -> bool {
        match self.get_plugin_configuration() {
            Some(body) if !body.is_empty() => {
                self.body = Rc::new(body);
                true
            }
            _ => {
                proxy_wasm::hostcalls::log(
                    LogLevel::Error,
                    "floor-filter: the configuration (the body to answer) is empty",
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
        Some(Box::new(Answer {
            body: Rc::clone(&self.body),
        }))
    }
}

struct Answer {
    body: Rc<Vec<u8>>,
}

impl Context for Answer {}

impl HttpContext for Answer {
    fn on_http_request_headers(&mut self, _headers: usize, _end_of_stream: bool) -> Action {
        self.send_http_response(
            200,
            vec![("content-type", "text/xml; charset=utf-8")],
            Some(&self.body),
        );
        Action::Pause
    }
}
