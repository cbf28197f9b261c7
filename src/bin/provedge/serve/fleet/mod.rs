//! The fleet page: `/fleet` lists a tenant's devices (vendor, model, MAC, last fetch, client,
//! firmware, last file, status; never-seen devices first), `/fleet/device/<mac>` shows one
//! (record, last-seen record, recent fetches, merged variables with secrets masked).
//! docs/fleet.md is the operator's guide.
//!
//! Like `/metrics`, it tells whoever reads it what the fleet is, so it is answered only on the
//! admin listener (`server.admin_listen`), never on a phone listener (there `/fleet` is the
//! engine's, as any unknown file), and with `server.metrics_token` set only to that token:
//! `Authorization: Bearer <token>`, or `Basic` with any user and the token as password, which
//! is what a browser sends after the `Basic` challenge. Not logged, not counted: it is not
//! phone traffic. `provedge fleet --store …` serves the same pages from a store alone, and
//! `provedge fleet --kv-namespace-id …` from a Worker's KV ([`standalone`]).
//!
//! | module | what |
//! |---|---|
//! | [`data`] | what the pages read: listings, records, last-seen records, merged variables |
//! | [`kv`] | a Worker's KV namespace as that data, through wrangler |
//! | [`view`] | the pages' data, sorted and filtered |
//! | [`html`] | the pages as HTML, every value escaped |
//! | [`query`] | `?tenant=&sort=&dir=&q=`, parsed and written back into links |
//! | [`firmware`] | the firmware version in a User-Agent |
//! | [`recent`] | the server's memory of each device's last fetches |
//! | [`standalone`] | `provedge fleet`: the pages over a store, on a listener of their own |

pub mod data;
mod firmware;
pub mod html;
pub mod kv;
pub mod query;
pub mod recent;
pub mod standalone;
pub mod view;

use std::time::{SystemTime, UNIX_EPOCH};

use hyper::header;
use hyper::http::request::Parts;
use hyper::Method;
use provedge::Mac;

use super::http::{respond, Body, State};
use data::{Site, Source};
use query::Query;

/// What the pages read in a running server, under the policy of `engine` (the one in force).
pub fn site<'a>(state: &'a State, engine: &'a provedge::Engine) -> Site<'a> {
    Site {
        source: Source::Store {
            store: &state.store,
            last_seen_dir: state.last_seen.dir(),
        },
        policy: &engine.config().policy,
        settings: &state.config.fleet,
        recent: Some(state.last_seen.recent()),
        token: state.config.metrics_token.as_ref(),
    }
}

/// The answer to a request for a fleet page (`/fleet`, `/fleet/…`); `None` for any other path.
/// Only the admin listener (and `provedge fleet`) asks.
pub async fn answer(site: &Site<'_>, parts: &Parts) -> Option<hyper::Response<Body>> {
    let path = parts.uri.path();
    if !site.settings.enabled || (path != "/fleet" && !path.starts_with("/fleet/")) {
        return None;
    }
    let head = parts.method == Method::HEAD;
    if parts.method != Method::GET && !head {
        let mut resp = provedge::Response::text(405, "method not allowed");
        resp.headers.push(("allow".into(), "GET, HEAD".into()));
        return Some(respond(resp, false));
    }
    if let Some(token) = site.token {
        let credentials = parts
            .headers
            .get(header::AUTHORIZATION)
            .map(|v| v.as_bytes());
        if !token.admits_basic_or_bearer(credentials) {
            let mut resp = provedge::Response::text(401, "unauthorized");
            resp.headers.push((
                "www-authenticate".into(),
                "Basic realm=\"provedge fleet\", charset=\"UTF-8\"".into(),
            ));
            return Some(respond(resp, head));
        }
    }
    let (status, body) = page(site, path, parts.uri.query()).await;
    Some(html_response(status, body, head))
}

/// The page at `path`: its status and HTML.
async fn page(site: &Site<'_>, path: &str, query: Option<&str>) -> (u16, String) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let query = Query::parse(query);
    let tenants = site.tenants().await;
    let tenant = match &query.tenant {
        None => None,
        Some(name) if tenants.contains(name) => Some(name.as_str()),
        Some(_) => {
            let text = "No such tenant: the picker on the fleet page lists them.";
            return (404, html::message("Unknown tenant", text));
        }
    };
    if path == "/fleet" || path == "/fleet/" {
        let mut listing = site.list(tenant).await;
        listing.select(&query);
        let body = html::list(&html::ListPage {
            tenant,
            tenants: &tenants,
            query: &query,
            listing: &listing,
            now,
        });
        return (200, body);
    }
    let Some(mac) = path
        .strip_prefix("/fleet/device/")
        .and_then(|m| m.parse::<Mac>().ok())
    else {
        return (404, html::message("Not found", "No such fleet page."));
    };
    match site.device(tenant, mac).await {
        Some(detail) => {
            let body = html::device(&html::DevicePage {
                tenant,
                query: &query,
                detail: &detail,
                now,
            });
            (200, body)
        }
        None => (
            404,
            html::message("Unknown device", "The store has no record of this device."),
        ),
    }
}

/// A page with the headers every fleet page carries: never cached, never framed, nothing
/// but itself allowed to run.
fn html_response(status: u16, body: String, head: bool) -> hyper::Response<Body> {
    let mut resp = provedge::Response::text(status, "");
    resp.headers = vec![
        ("content-type".into(), "text/html; charset=utf-8".into()),
        ("cache-control".into(), "no-store".into()),
        ("content-security-policy".into(), html::CSP.clone()),
        ("x-content-type-options".into(), "nosniff".into()),
        ("x-frame-options".into(), "DENY".into()),
        ("referrer-policy".into(), "no-referrer".into()),
    ];
    resp.body = body.into_bytes();
    respond(resp, head)
}
