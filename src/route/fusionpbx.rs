//! The FusionPBX query form: `/app/provision/index.php?mac=…&file=…` (and `/app/provision/`).
//!
//! Operators' nginx rules rewrite phone requests to this form, and phones provisioned with
//! `http://pbx/app/provision/?mac=$MA` ask for it directly. `mac` names the phone (any MAC
//! spelling; FusionPBX strips separators); `file` names the file, with `{$mac}` standing for
//! the MAC (`%7b%24mac%7d-registration.cfg` in the seed rules). Without `file`, the answer is
//! the vendor's main per-device file, the vendor coming from the User-Agent, the MAC's OUI or
//! configuration.

use super::path::Path;
use super::{recognise, table, Evidence, RouteConfig, RouteError};
use crate::mac::Mac;
use crate::request::Request;
use crate::route::Route;

/// The path suffixes of FusionPBX's provisioning endpoint (compared without regard to case).
pub(crate) const ENDPOINTS: &[&str] = &[
    "/app/provision/index.php",
    "/app/provision/",
    "/app/provision",
];

/// Whether the path is FusionPBX's provisioning endpoint.
pub(super) fn is_endpoint(path: &Path) -> bool {
    let joined = path.joined().as_bytes();
    ENDPOINTS.iter().any(|end| {
        joined
            .len()
            .checked_sub(end.len())
            .and_then(|start| joined.get(start..))
            .is_some_and(|tail| tail.eq_ignore_ascii_case(end.as_bytes()))
    })
}

pub(super) fn route(
    req: &Request,
    mut evidence: Evidence,
    cfg: &RouteConfig,
) -> Result<Route, RouteError> {
    let mut mac_param = None;
    let mut file_param = None;
    for (k, v) in form_urlencoded::parse(req.raw_query().unwrap_or("").as_bytes()) {
        match &*k {
            "mac" if mac_param.is_none() => mac_param = Some(v.into_owned()),
            "file" if file_param.is_none() => file_param = Some(v.into_owned()),
            _ => {}
        }
    }
    let mac = match mac_param.as_deref() {
        Some(raw) => Some(parse_mac(raw)?),
        None => None,
    };
    evidence.query_mac = mac;
    let name =
        match (file_param, mac) {
            (Some(file), _) => {
                if file.contains('/') || file.contains('\\') || file.contains("..") {
                    return Err(RouteError::Traversal);
                }
                match (file.contains("{$mac}"), mac) {
                    (true, Some(mac)) => file.replace("{$mac}", &mac.to_string()),
                    (true, None) => {
                        return Err(RouteError::BadTarget(
                            "file names {$mac} but no mac is given",
                        ))
                    }
                    (false, _) => file,
                }
            }
            (None, Some(mac)) => {
                let vendor = evidence.vendors(cfg, Some(mac)).next().ok_or_else(|| {
                    RouteError::Ambiguous {
                        file: format!("?mac={mac}"),
                        vendors: Vec::new(),
                    }
                })?;
                evidence.forced = Some(vendor);
                let (prefix, suffix) = table::main_device_file(vendor);
                format!("{prefix}{}{suffix}", mac.compact(table::mac_case(vendor)))
            }
            (None, None) => {
                return Err(RouteError::Unrecognised {
                    file: "/app/provision/ without mac or file".into(),
                })
            }
        };
    let path = Path::parse(
        &format!("/{}", percent_encode_name(&name)),
        cfg.limits.max_target,
    )?;
    recognise(&path, &req.method, &evidence, cfg)
}

/// FusionPBX accepts `00:15:65:…`, `00-15-65-…`, `0015.654a.a937` and bare hex.
fn parse_mac(raw: &str) -> Result<Mac, RouteError> {
    let compact: String = raw
        .chars()
        .filter(|c| !matches!(c, ':' | '-' | '.'))
        .collect();
    Mac::parse_compact(&compact).map_err(|error| RouteError::InvalidQueryMac { error })
}

/// The decoded `file` value goes back through [`Path::parse`], so `%` must be re-encoded.
fn percent_encode_name(name: &str) -> String {
    name.replace('%', "%25")
}
