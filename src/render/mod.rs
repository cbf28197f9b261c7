//! Rendering: from templates and device data to the exact bytes a phone receives.
//!
//! * [`cache`]: rendered files remembered by a hash of their inputs;
//! * [`syntax`]: what each vendor's files are written in, the template each is rendered from,
//!   and the media type;
//! * [`template`]: minijinja templates, compiled once per engine and cached;
//! * [`substitution`]: templates that only substitute values, rendered without the interpreter;
//! * [`layers`]: variable files, parsed once per change of their bytes;
//! * [`references`]: what a template extends, includes and imports, and the closure of store
//!   keys one render reads (asked for in fetch rounds);
//! * [`vocabulary`]: the filters, tests and functions templates may use;
//! * [`grandstream`]: P-value text → `gs_provision` XML or the legacy binary;
//! * [`text`]: the fixed parts of line-based formats (Yealink's version line, Panasonic's header);
//! * [`xml`]: escaping, and the well-formedness check every XML output passes before serving.

pub mod cache;
pub mod grandstream;
pub mod layers;
pub mod references;
mod scan;
pub mod substitution;
pub mod syntax;
pub mod template;
pub mod text;
pub mod vocabulary;
pub mod xml;

pub use cache::RenderCache;
pub use layers::LayerCache;
pub use syntax::{Syntax, TextFlavor};
pub use template::{TemplateCache, TemplateError};

/// The caches an engine keeps across requests: compiled templates, rendered files, parsed
/// device records and parsed variable files.
#[derive(Clone, Debug, Default)]
pub struct Caches {
    pub templates: TemplateCache,
    pub renders: RenderCache,
    pub records: crate::store::RecordCache,
    pub layers: LayerCache,
}
