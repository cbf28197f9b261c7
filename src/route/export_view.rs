//! A read-only view of the route table for [`crate::rewrite::export`], which renders the typed
//! router as nginx rewrite rules for operators who keep nginx. Nothing here changes routing.

pub(crate) use super::pattern::{ModelRule, Seg};
use super::table::FAMILIES;
use crate::vendor::Vendor;

/// One row of the route table, in matching order.
pub(crate) struct Row {
    /// The name shape matched against the last [`Row::depth`] path segments.
    pub pattern: &'static [Seg],
    /// The canonical spelling the store key is rendered from.
    pub canon: &'static [Seg],
    /// Whether a GET fetches it (upload-only rows refuse GET).
    pub readable: bool,
    /// Claimant vendors; `true` marks one chosen only on evidence (User-Agent, OUI, …).
    pub claims: Vec<(Vendor, bool)>,
}

/// Every row, in the order the router tries them.
pub(crate) fn rows() -> impl Iterator<Item = Row> {
    FAMILIES.iter().map(|f| Row {
        pattern: f.pattern,
        canon: f.canon.unwrap_or(f.pattern),
        readable: f.read.is_some(),
        claims: f
            .claims
            .iter()
            .map(|c| (c.vendor, c.needs_evidence))
            .collect(),
    })
}

/// The path suffixes the router hands to its FusionPBX query-form handler (compared without
/// regard to case).
pub(crate) use super::fusionpbx::ENDPOINTS as FUSIONPBX_ENDPOINTS;
