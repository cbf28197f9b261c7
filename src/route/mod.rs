//! Recognition: a request in, a typed [`Route`] out (vendor, scope, kind, MAC, model, the
//! file's canonical name and its store key), or a [`RouteError`] that says why not.
//!
//! The order of evidence for names several vendors use (`<mac>.cfg`, `<mac>.xml`,
//! `cfg<mac>.xml`) is: the User-Agent, then the OUI of the MAC in the path, then the OUI of the
//! MAC the phone announced (User-Agent or query), then configuration (a default vendor per path
//! prefix), then a directory named after a vendor (`/prov/yealink/…`).

mod device_files;
mod error;
pub(crate) mod export_view;
mod fusionpbx;
mod index;
pub mod memo;
mod path;
mod pattern;
mod table;
pub mod ua_models;
pub mod user_agent;
pub mod yealink_codes;

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use device_files::device_files;
pub use error::RouteError;
pub use memo::RouteMemo;
pub use user_agent::UserAgent;

use crate::key::StoreKey;
use crate::mac::Mac;
use crate::model::Model;
use crate::request::{Method, Request};
use crate::vendor::Vendor;
use path::Path;
use pattern::Captures;
use table::{Claim, Family};

/// Whose file it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// One phone's file; the route carries its MAC.
    Device,
    /// Shared by one model (`cfggxp2170.xml`, `y000000000066.cfg`, `algop8188.conf`).
    Model,
    /// Shared by every phone of the vendor (`cfg.xml`, `000000000000.cfg`).
    Generic,
}

/// What the file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Configuration the phone applies.
    Config,
    /// A checksum sidecar of another file (Algo `.md5`).
    Checksum,
    /// A firmware image or a pointer to one.
    Firmware,
    /// Something the phone sends to the server (logs, overrides, contact backups).
    Upload,
    /// Key material: Yealink `_Security.enc`, Cisco trust lists, Aastra `security.tuz`.
    Key,
    /// A contact directory or phonebook.
    Directory,
    /// Any other static file: images, tones, language files.
    Asset,
}

impl Kind {
    /// The lower-case name used in JSON and logs.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Config => "config",
            Kind::Checksum => "checksum",
            Kind::Firmware => "firmware",
            Kind::Upload => "upload",
            Kind::Key => "key",
            Kind::Directory => "directory",
            Kind::Asset => "asset",
        }
    }
}

impl Scope {
    /// The lower-case name used in JSON and logs.
    pub fn name(self) -> &'static str {
        match self {
            Scope::Device => "device",
            Scope::Model => "model",
            Scope::Generic => "generic",
        }
    }
}

/// The identity a route's file belongs to. A device file always has its MAC: there is no
/// device-scoped route without one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    Device(Mac),
    Model,
    Generic,
}

/// Two MACs a request carries that disagree: the file names one phone, the phone says it is
/// another. Routing records it; the policy stage refuses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MacConflict {
    /// The MAC the requested file belongs to (path or query).
    pub requested: Mac,
    /// The MAC the requester announced (User-Agent, or the query beside a User-Agent).
    pub announced: Mac,
}

impl fmt::Display for MacConflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "file of {} requested by {}",
            self.requested, self.announced
        )
    }
}

/// A recognised request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    vendor: Vendor,
    subject: Subject,
    kind: Kind,
    model: Option<Model>,
    /// Shared, so the engine's remembered routes clone without copying it.
    file: Arc<str>,
    key: StoreKey,
    user_agent: Option<UserAgent>,
    query_mac: Option<Mac>,
}

impl Route {
    pub fn vendor(&self) -> Vendor {
        self.vendor
    }

    pub fn subject(&self) -> Subject {
        self.subject
    }

    /// The MAC the file belongs to, for device files only.
    pub fn subject_mac(&self) -> Option<Mac> {
        match self.subject {
            Subject::Device(mac) => Some(mac),
            _ => None,
        }
    }

    pub fn scope(&self) -> Scope {
        match self.subject {
            Subject::Device(_) => Scope::Device,
            Subject::Model => Scope::Model,
            Subject::Generic => Scope::Generic,
        }
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The MAC of the phone this is about: the file's own MAC, else the one the phone announced
    /// (so a Yealink `y000000000066.cfg` or Grandstream `cfg.xml` knows who asks).
    pub fn mac(&self) -> Option<Mac> {
        match self.subject {
            Subject::Device(mac) => Some(mac),
            _ => self
                .query_mac
                .or(self.user_agent.as_ref().and_then(|u| u.mac)),
        }
    }

    /// The model, from the file name or, failing that, from the same vendor's User-Agent.
    pub fn model(&self) -> Option<&Model> {
        self.model.as_ref()
    }

    /// The canonical file name, in the case the vendor's phones use (`algom0022EE123456.conf`).
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The canonical store key (always lower case).
    pub fn key(&self) -> &StoreKey {
        &self.key
    }

    /// What the User-Agent said, if it was recognised.
    pub fn user_agent(&self) -> Option<&UserAgent> {
        self.user_agent.as_ref()
    }

    /// A disagreement between the MACs the request carries, if any.
    pub fn mac_conflict(&self) -> Option<MacConflict> {
        let ua = self.user_agent.as_ref().and_then(|u| u.mac);
        let requested = match self.subject {
            Subject::Device(mac) => Some(mac),
            _ => self.query_mac,
        };
        match (requested, ua) {
            (Some(requested), Some(announced)) if requested != announced => Some(MacConflict {
                requested,
                announced,
            }),
            _ => None,
        }
    }
}

/// The seven fields of the CLI contract: vendor, scope, kind, mac, model, file, key.
impl Serialize for Route {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Json<'a> {
            vendor: Vendor,
            scope: Scope,
            kind: Kind,
            mac: Option<Mac>,
            model: Option<&'a Model>,
            file: &'a str,
            key: &'a StoreKey,
        }
        Json {
            vendor: self.vendor,
            scope: self.scope(),
            kind: self.kind,
            mac: self.mac(),
            model: self.model(),
            file: &self.file,
            key: &self.key,
        }
        .serialize(s)
    }
}

/// Grandstream's configured file-name affixes (P234/P235 for configs, P232/P233 for firmware).
/// A phone with a prefix `gs_` asks for `gs_cfg000b82123456.xml`; the affixes are stripped
/// before matching. Where a postfix goes relative to `.xml` is undocumented (vendors.md §2.1
/// [I]), so both `<name>.xml<postfix>` and `<name><postfix>.xml` are accepted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GrandstreamAffixes {
    pub config_prefix: String,
    pub config_postfix: String,
    pub firmware_prefix: String,
    pub firmware_postfix: String,
}

/// A default vendor for requests under a path prefix (e.g. `/prov/polycom/` → Polycom), used
/// when the User-Agent and OUI leave a shared name undecided.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathDefault {
    pub prefix: String,
    pub vendor: Vendor,
}

/// An OUI → vendor attribution added by the operator (vendors.md marks some as unverified,
/// e.g. Yealink `c4fc22`, `44dbd2`). Checked before the built-in table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OuiClaim {
    pub oui: [u8; 3],
    pub vendor: Vendor,
}

impl<'de> Deserialize<'de> for OuiClaim {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<OuiClaim, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            oui: String,
            vendor: Vendor,
        }
        let raw = Raw::deserialize(d)?;
        let hex: String = raw.oui.chars().filter(|c| *c != ':' && *c != '-').collect();
        let mac = Mac::parse_compact(&format!("{hex:0<12}"))
            .ok()
            .filter(|_| hex.len() == 6)
            .ok_or_else(|| {
                serde::de::Error::custom(format_args!(
                    "invalid OUI {:?}: expected 6 hex digits",
                    raw.oui
                ))
            })?;
        Ok(OuiClaim {
            oui: mac.oui(),
            vendor: raw.vendor,
        })
    }
}

/// Bounds on what a client may send. Defaults suit phones, whose requests are tiny.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Longest request target (path and query), in bytes.
    pub max_target: usize,
    /// Longest single header value, in bytes.
    pub max_header_value: usize,
    /// Most header fields.
    pub max_headers: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_target: 2048,
            max_header_value: 8192,
            max_headers: 64,
        }
    }
}

/// Everything the route stage can be configured with.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RouteConfig {
    pub grandstream: GrandstreamAffixes,
    pub default_vendors: Vec<PathDefault>,
    pub extra_ouis: Vec<OuiClaim>,
    pub limits: Limits,
}

impl RouteConfig {
    /// Who made `mac`: the operator's attributions first, then the IEEE table.
    pub fn vendor_of(&self, mac: &Mac) -> Option<Vendor> {
        let oui = mac.oui();
        self.extra_ouis
            .iter()
            .find(|c| c.oui == oui)
            .map(|c| c.vendor)
            .or_else(|| Vendor::by_oui(mac))
    }

    /// The configured default vendor for a decoded path: the longest matching prefix wins.
    fn default_vendor(&self, path: &str) -> Option<Vendor> {
        self.default_vendors
            .iter()
            .filter(|d| {
                path.get(..d.prefix.len())
                    .is_some_and(|head| head.eq_ignore_ascii_case(&d.prefix))
            })
            .max_by_key(|d| d.prefix.len())
            .map(|d| d.vendor)
    }
}

/// What the request says about who is asking, in the order it is trusted.
#[derive(Clone, Debug, Default)]
struct Evidence {
    /// A vendor decided before matching (the query form's vendor for its main file).
    forced: Option<Vendor>,
    user_agent: Option<UserAgent>,
    query_mac: Option<Mac>,
    configured: Option<Vendor>,
    directory: Option<Vendor>,
}

impl Evidence {
    /// Vendors in order of trust, given the MAC (if any) the matched name carries.
    fn vendors<'a>(
        &'a self,
        cfg: &'a RouteConfig,
        name_mac: Option<Mac>,
    ) -> impl Iterator<Item = Vendor> + 'a {
        let ua = self.user_agent.as_ref();
        [
            self.forced,
            ua.map(|u| u.vendor),
            name_mac.and_then(|m| cfg.vendor_of(&m)),
            self.query_mac.and_then(|m| cfg.vendor_of(&m)),
            ua.and_then(|u| u.mac).and_then(|m| cfg.vendor_of(&m)),
            self.configured,
            self.directory,
        ]
        .into_iter()
        .flatten()
    }
}

/// Recognises a request.
pub fn route(req: &Request, cfg: &RouteConfig) -> Result<Route, RouteError> {
    check_headers(req, &cfg.limits)?;
    route_checked(req, cfg)
}

/// [`route`] for a request whose headers were checked against the limits already.
fn route_checked(req: &Request, cfg: &RouteConfig) -> Result<Route, RouteError> {
    if req.target.len() > cfg.limits.max_target {
        return Err(RouteError::PathTooLong {
            len: req.target.len(),
            max: cfg.limits.max_target,
        });
    }
    let path = Path::parse(req.raw_path(), cfg.limits.max_target)?;
    let evidence = Evidence {
        forced: None,
        user_agent: req.user_agent().and_then(user_agent::parse),
        query_mac: None,
        configured: cfg.default_vendor(path.joined()),
        directory: path.directories().rev().find_map(Vendor::from_name),
    };
    if fusionpbx::is_endpoint(&path) {
        return fusionpbx::route(req, evidence, cfg);
    }
    recognise(&path, &req.method, &evidence, cfg)
}

/// Routes another file of the same vendor for the same requester: the `.conf` an Algo `.md5`
/// is the checksum of, say. `None` if the vendor asks for no file of that name.
pub fn sibling(route: &Route, file: &str, cfg: &RouteConfig) -> Option<Route> {
    let evidence = Evidence {
        forced: Some(route.vendor),
        user_agent: route.user_agent.clone(),
        query_mac: route.query_mac,
        configured: None,
        directory: None,
    };
    let path = Path::parse(
        &format!("/{}", file.replace('%', "%25")),
        cfg.limits.max_target,
    )
    .ok()?;
    recognise(&path, &Method::Get, &evidence, cfg)
        .ok()
        .filter(|r| r.vendor == route.vendor)
}

fn check_headers(req: &Request, limits: &Limits) -> Result<(), RouteError> {
    if req.headers.len() > limits.max_headers {
        return Err(RouteError::TooManyHeaders {
            count: req.headers.len(),
            max: limits.max_headers,
        });
    }
    if req
        .headers
        .iter()
        .any(|(n, v)| n.len() > limits.max_header_value || v.len() > limits.max_header_value)
    {
        return Err(RouteError::HeaderTooLarge {
            max: limits.max_header_value,
        });
    }
    Ok(())
}

/// Which rows a name variant may match.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Only {
    Any,
    GrandstreamConfig,
    GrandstreamFirmware,
}

impl Only {
    fn admits(self, family: &Family) -> bool {
        let grandstream = || {
            family
                .claims
                .iter()
                .any(|c| c.vendor == Vendor::Grandstream)
        };
        match self {
            Only::Any => true,
            Only::GrandstreamConfig => grandstream() && family.read != Some(Kind::Firmware),
            Only::GrandstreamFirmware => grandstream() && family.read == Some(Kind::Firmware),
        }
    }
}

/// The file name with configured Grandstream affixes removed, if it carries them.
fn strip_affixes(name: &str, prefix: &str, postfix: &str) -> Option<String> {
    if prefix.is_empty() && postfix.is_empty() {
        return None;
    }
    let rest = name.strip_prefix(prefix)?;
    if postfix.is_empty() {
        return Some(rest.to_owned());
    }
    if let Some(s) = rest.strip_suffix(postfix) {
        return Some(s.to_owned());
    }
    let (stem, ext) = rest.rsplit_once('.')?;
    stem.strip_suffix(postfix).map(|s| format!("{s}.{ext}"))
}

enum Resolution {
    Chosen(Vendor),
    /// Only evidence-requiring claimants, and no evidence for any: try later rows.
    NoEvidence,
    Ambiguous(Vec<Vendor>),
}

fn resolve(
    claims: &[Claim],
    name_mac: Option<Mac>,
    evidence: &Evidence,
    cfg: &RouteConfig,
) -> Resolution {
    if let [only] = claims {
        if !only.needs_evidence {
            return Resolution::Chosen(only.vendor);
        }
    }
    if let Some(v) = evidence
        .vendors(cfg, name_mac)
        .find(|v| claims.iter().any(|c| c.vendor == *v))
    {
        return Resolution::Chosen(v);
    }
    let plain: Vec<Vendor> = claims
        .iter()
        .filter(|c| !c.needs_evidence)
        .map(|c| c.vendor)
        .collect();
    match plain.as_slice() {
        [] => Resolution::NoEvidence,
        [one] => Resolution::Chosen(*one),
        _ => Resolution::Ambiguous(plain),
    }
}

fn recognise(
    path: &Path,
    method: &Method,
    evidence: &Evidence,
    cfg: &RouteConfig,
) -> Result<Route, RouteError> {
    let Some(name) = path.file_name() else {
        return Err(RouteError::Unrecognised {
            file: path.joined().to_owned(),
        });
    };
    let gs = &cfg.grandstream;
    let variants = [
        strip_affixes(name, &gs.config_prefix, &gs.config_postfix)
            .map(|n| (Cow::Owned(n), Only::GrandstreamConfig)),
        strip_affixes(name, &gs.firmware_prefix, &gs.firmware_postfix)
            .map(|n| (Cow::Owned(n), Only::GrandstreamFirmware)),
        Some((Cow::Borrowed(name), Only::Any)),
    ];
    for (variant, only) in variants.iter().flatten() {
        for &index::Candidate { family, depth } in index::candidates(variant) {
            if !only.admits(family) {
                continue;
            }
            let input = match (depth, only) {
                (1, _) => variant.as_ref(),
                (_, Only::Any) => match path.tail(depth) {
                    Some(tail) => tail,
                    None => continue,
                },
                _ => continue,
            };
            let Some(caps) = pattern::matches(family.pattern, input) else {
                continue;
            };
            let grandstream_only: Vec<Claim>;
            let claims = match only {
                Only::Any => family.claims,
                _ => {
                    grandstream_only = family
                        .claims
                        .iter()
                        .copied()
                        .filter(|c| c.vendor == Vendor::Grandstream)
                        .collect();
                    &grandstream_only
                }
            };
            match resolve(claims, caps.mac, evidence, cfg) {
                Resolution::Chosen(vendor) => {
                    return build(family, vendor, &caps, method, evidence)
                }
                Resolution::NoEvidence => continue,
                Resolution::Ambiguous(vendors) => {
                    return Err(RouteError::Ambiguous {
                        file: name.to_owned(),
                        vendors,
                    })
                }
            }
        }
    }
    if let Some(route) = static_asset(name, method, evidence)? {
        return Ok(route);
    }
    // Only now, on the failure path, look for a name that has a vendor's shape around a
    // malformed MAC, so the refusal can say so.
    // (A near miss keeps the literal after the MAC slot, so the index's candidates suffice.)
    let near_miss = index::candidates(name)
        .iter()
        .filter(|c| c.depth == 1)
        .find_map(|c| pattern::mac_near_miss(c.family.pattern, name))
        .map(|(found, error)| RouteError::InvalidMac {
            found: found.to_owned(),
            error,
        });
    Err(near_miss.unwrap_or_else(|| RouteError::Unrecognised {
        file: name.to_owned(),
    }))
}

const READ: &[&str] = &["GET", "HEAD"];
const WRITE: &[&str] = &["PUT", "POST"];
const READ_WRITE: &[&str] = &["GET", "HEAD", "PUT", "POST"];

fn build(
    family: &Family,
    vendor: Vendor,
    caps: &Captures<'_>,
    method: &Method,
    evidence: &Evidence,
) -> Result<Route, RouteError> {
    let kind = match (family.read, family.write) {
        (Some(kind), _) if method.reads() => kind,
        (_, true) if method.writes() => Kind::Upload,
        (read, write) => {
            let allow = match (read.is_some(), write) {
                (true, true) => READ_WRITE,
                (true, false) => READ,
                _ => WRITE,
            };
            return Err(RouteError::MethodNotAllowed {
                method: method.clone(),
                allow,
            });
        }
    };
    let file = pattern::render(
        family.canon.unwrap_or(family.pattern),
        caps,
        table::mac_case(vendor),
    )
    .ok_or_else(|| RouteError::Unrecognised {
        file: String::new(),
    })?;
    let subject = match (family.scope_of(), caps.mac) {
        (Scope::Device, Some(mac)) => Subject::Device(mac),
        (Scope::Model, _) => Subject::Model,
        _ => Subject::Generic,
    };
    let user_agent = evidence.user_agent.clone();
    let same_vendor_ua = user_agent.as_ref().filter(|u| u.vendor == vendor);
    let ua_model = same_vendor_ua.and_then(|u| u.model);
    let model = match (caps.model_rule, caps.model_text, ua_model) {
        // A UA model sharing the file's Yealink code is more precise than the table's first.
        (Some(pattern::ModelRule::YealinkCode), Some(code), Some(ua))
            if yealink_codes::code_covers(code, ua.as_str()) =>
        {
            Some(ua)
        }
        (_, _, ua) => caps.model().or(ua),
    };
    route_for(
        vendor,
        subject,
        kind,
        model,
        file,
        user_agent,
        evidence.query_mac,
    )
}

fn route_for(
    vendor: Vendor,
    subject: Subject,
    kind: Kind,
    model: Option<Model>,
    file: String,
    user_agent: Option<UserAgent>,
    query_mac: Option<Mac>,
) -> Result<Route, RouteError> {
    let key = match kind {
        Kind::Upload => StoreKey::upload(vendor, &file),
        _ => StoreKey::file(vendor, &file),
    }
    .ok_or_else(|| RouteError::Unrecognised { file: file.clone() })?;
    Ok(Route {
        vendor,
        subject,
        kind,
        model,
        file: file.into(),
        key,
        user_agent,
        query_mac,
    })
}

/// Images, tones and firmware a phone of a known vendor fetches by names no table lists.
fn static_asset(
    name: &str,
    method: &Method,
    evidence: &Evidence,
) -> Result<Option<Route>, RouteError> {
    let Some(vendor) = evidence
        .forced
        .or(evidence.user_agent.as_ref().map(|u| u.vendor))
        .or(evidence.configured)
        .or(evidence.directory)
    else {
        return Ok(None);
    };
    let Some((_, ext)) = name.rsplit_once('.') else {
        return Ok(None);
    };
    let Some((_, kind)) = table::ASSET_EXTENSIONS
        .iter()
        .find(|(e, _)| e.eq_ignore_ascii_case(ext))
    else {
        return Ok(None);
    };
    if StoreKey::file(vendor, name).is_none() || name.starts_with('.') {
        return Ok(None);
    }
    if !method.reads() {
        return Err(RouteError::MethodNotAllowed {
            method: method.clone(),
            allow: READ,
        });
    }
    let model = evidence
        .user_agent
        .as_ref()
        .filter(|u| u.vendor == vendor)
        .and_then(|u| u.model);
    route_for(
        vendor,
        Subject::Generic,
        *kind,
        model,
        name.to_owned(),
        evidence.user_agent.clone(),
        None,
    )
    .map(Some)
}
