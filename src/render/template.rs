//! Templates: minijinja (Jinja2 syntax, as Wazo provd uses), compiled once and cached.
//!
//! Every template is compiled with strict undefined variables (a typo fails the render instead
//! of producing an empty value), a fuel limit (a runaway loop ends the render instead of the
//! VM), and a formatter for the output's syntax, so a value from device data can never break
//! the file it lands in: in XML it is escaped, in line-based formats it cannot end the line.
//!
//! A file's template is compiled together with every template it extends, includes or imports
//! (found in store rounds by [`super::references`]), in one environment per file template, and
//! kept while the hash of every one of those sources is unchanged: editing a base template
//! recompiles each child that uses it, and nothing else.

use std::borrow::Cow;
use std::hash::Hasher;
use std::sync::{Arc, Mutex};

use minijinja::syntax::SyntaxConfig;
use minijinja::value::Value;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};

use super::references::{self, Reference, ScanError};
use super::substitution::{Data, Substitution};
use super::syntax::Syntax;
use crate::key::StoreKey;
use crate::seeded_map::SeededMap;

/// Instructions one render may spend; real templates use a few thousand.
pub(crate) const FUEL: u64 = 2_000_000;
/// Compiled templates kept per engine by default (`memory.template_entries`); beyond this the
/// cache starts over. The references remembered per template key have the same bound.
pub const DEFAULT_ENTRIES: usize = 512;

/// Converts serialisable data into a template value.
pub fn to_value<T: serde::Serialize>(data: T) -> Value {
    Value::from(minijinja::value::Serde(data))
}

/// A template that failed: its key, the line (when known) and what went wrong. The message
/// comes from the template engine and names the construct, never a context value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateError {
    pub key: String,
    pub line: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "template {} line {line}: {}", self.key, self.message),
            None => write!(f, "template {}: {}", self.key, self.message),
        }
    }
}

/// The whitespace rules of every template: config files are line-based, so block tags leave
/// no blank lines behind, and the final newline is part of the file.
pub(crate) fn syntax() -> SyntaxConfig {
    SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .keep_trailing_newline(true)
        .build()
        .unwrap_or_default()
}

/// Compiled templates by file template and the hash of every source compiled into them, and
/// the references each template key had when last read.
pub struct TemplateCache {
    entries: Mutex<SeededMap<(StoreKey, Syntax), Entry>>,
    references: Mutex<SeededMap<StoreKey, Scanned>>,
    max_entries: usize,
}

impl Default for TemplateCache {
    fn default() -> TemplateCache {
        TemplateCache::bounded(DEFAULT_ENTRIES)
    }
}

impl TemplateCache {
    /// A cache of at most `entries` compiled templates.
    pub fn bounded(entries: usize) -> TemplateCache {
        TemplateCache {
            entries: Mutex::default(),
            references: Mutex::default(),
            max_entries: entries.max(1),
        }
    }
}

/// The references of a template key and the digest of the source they were scanned from.
type Scanned = (u128, Arc<[Reference]>);

/// A file's template compiled: minijinja's environment holding it and what it uses, and the
/// template as a [`Substitution`] when it is one (rendered without the interpreter).
pub struct Compiled {
    env: Environment<'static>,
    root: StoreKey,
    syntax: Syntax,
    substitution: Option<Substitution>,
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiled")
            .field("root", &self.root)
            .field("substitution", &self.substitution.is_some())
            .finish()
    }
}

impl Compiled {
    /// The template as a substitution, if it is one.
    pub fn substitution(&self) -> Option<&Substitution> {
        self.substitution.as_ref()
    }

    /// Renders through the substitution fast path when the template is one and the context's
    /// data allows (`context` gives each context name's data), otherwise `None`.
    pub fn substitute<'a>(&self, context: &dyn Fn(&str) -> Option<Data<'a>>) -> Option<String> {
        self.substitution.as_ref()?.render(self.syntax, context)
    }

    /// A Grandstream XML file through the substitution fast path, without its P-value text
    /// ([`Substitution::render_pvalue_xml`]); `None` when that path declines.
    pub fn substitute_pvalue_xml<'a>(
        &self,
        mac: Option<crate::mac::Mac>,
        context: &dyn Fn(&str) -> Option<Data<'a>>,
    ) -> Option<Vec<u8>> {
        if self.syntax != (Syntax::PValues { binary: false }) {
            return None;
        }
        self.substitution.as_ref()?.render_pvalue_xml(mac, context)
    }

    /// Renders with minijinja.
    pub fn render(&self, ctx: Value) -> Result<String, TemplateError> {
        self.env
            .get_template(references::name_of(&self.root))
            .and_then(|t| t.render(ctx))
            .map_err(|e| failure(&self.root, &e))
    }
}

/// A compiled template and the hash of the sources it was compiled from.
type Entry = (u128, Arc<Compiled>);

impl std::fmt::Debug for TemplateCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.entries.lock().map(|m| m.len()).unwrap_or(0);
        write!(f, "TemplateCache({n} compiled)")
    }
}

impl Clone for TemplateCache {
    /// A clone starts empty: compiled templates are per engine instance.
    fn clone(&self) -> TemplateCache {
        TemplateCache::bounded(self.max_entries)
    }
}

impl TemplateCache {
    /// Renders the first of `templates` (each a key below `templates/` and its source) with
    /// `ctx`; the others are what it extends, includes and imports. `id` names the compiled
    /// result across requests: the first key in the tenant's namespace.
    pub fn render(
        &self,
        id: &StoreKey,
        templates: &[(&StoreKey, &str)],
        syntax: Syntax,
        ctx: Value,
    ) -> Result<String, TemplateError> {
        self.compiled(id, templates, syntax)?.render(ctx)
    }

    /// Renders one template that uses no other (tests, and the simplest callers).
    pub fn render_one(
        &self,
        key: &StoreKey,
        source: &str,
        syntax: Syntax,
        ctx: Value,
    ) -> Result<String, TemplateError> {
        self.render(key, &[(key, source)], syntax, ctx)
    }

    /// How many templates are compiled (for tests and metrics).
    pub fn len(&self) -> usize {
        self.entries.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// Whether nothing is compiled yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The references of the template at `key` (in the tenant's namespace), scanned from
    /// `source` unless these bytes were scanned last time, and remembered for
    /// [`TemplateCache::remembered`].
    pub fn references(
        &self,
        key: &StoreKey,
        source: &crate::Blob,
    ) -> Result<Arc<[Reference]>, ScanError> {
        let hash = source.digest();
        if let Ok(map) = self.references.lock() {
            if let Some((h, refs)) = map.get(key) {
                if *h == hash {
                    return Ok(Arc::clone(refs));
                }
            }
        }
        let refs: Arc<[Reference]> = match std::str::from_utf8(source.as_slice()) {
            Ok(text) => references::scan(text)?.into(),
            Err(_) => Arc::new([]),
        };
        if let Ok(mut map) = self.references.lock() {
            if map.len() >= self.max_entries && !map.contains_key(key) {
                map.clear();
            }
            map.insert(key.clone(), (hash, Arc::clone(&refs)));
        }
        Ok(refs)
    }

    /// The references `key` had when it was last read: only to name keys ahead of reading
    /// them, never to render.
    pub fn remembered(&self, key: &StoreKey) -> Option<Arc<[Reference]>> {
        let map = self.references.lock().ok()?;
        map.get(key).map(|(_, refs)| Arc::clone(refs))
    }

    /// The first of `templates` compiled (each a key below `templates/` and its source; the
    /// others are what it extends, includes and imports), from the cache while every source
    /// is unchanged. `id` names the compiled result across requests: the first key in the
    /// tenant's namespace.
    pub fn compiled(
        &self,
        id: &StoreKey,
        templates: &[(&StoreKey, &str)],
        syntax: Syntax,
    ) -> Result<Arc<Compiled>, TemplateError> {
        if templates.is_empty() {
            return Err(TemplateError {
                key: id.to_string(),
                line: None,
                message: "no template".into(),
            });
        }
        let mut hasher = xxhash_rust::xxh3::Xxh3Default::new();
        for (key, source) in templates {
            hasher.write(key.as_str().as_bytes());
            hasher.write_u8(0xff);
            hasher.write_u64(source.len() as u64);
            hasher.write(source.as_bytes());
        }
        let hash = hasher.digest128();
        let cache_key = (id.clone(), syntax);
        if let Ok(entries) = self.entries.lock() {
            if let Some((h, compiled)) = entries.get(&cache_key) {
                if *h == hash {
                    return Ok(Arc::clone(compiled));
                }
            }
        }
        let compiled = Arc::new(compile(templates, syntax)?);
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= self.max_entries && !entries.contains_key(&cache_key) {
                entries.clear();
            }
            entries.insert(cache_key, (hash, Arc::clone(&compiled)));
        }
        Ok(compiled)
    }
}

fn compile(templates: &[(&StoreKey, &str)], syntax: Syntax) -> Result<Compiled, TemplateError> {
    let Some(((root, source), uses)) = templates.split_first() else {
        return Err(TemplateError {
            key: String::new(),
            line: None,
            message: "no template".into(),
        });
    };
    let env = environment(templates, syntax)?;
    // Only a template that uses no other can be a substitution (one that names another, even
    // an `ignore missing` include that is absent, is not in the subset anyway).
    let substitution = if uses.is_empty() {
        Substitution::compile(source)
    } else {
        None
    };
    Ok(Compiled {
        env,
        root: (*root).clone(),
        syntax,
        substitution,
    })
}

fn environment(
    templates: &[(&StoreKey, &str)],
    syntax: Syntax,
) -> Result<Environment<'static>, TemplateError> {
    let mut env = super::vocabulary::environment();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env.set_syntax(self::syntax());
    // Names are store keys below `templates/`, which are lower case: `"Yealink/Base.cfg"`
    // reads the same template as `"yealink/base.cfg"`, as it did when the store was read.
    env.set_path_join_callback(|name, _parent| match references::key_of(name) {
        Some(key) if references::name_of(&key) != name => {
            Cow::Owned(references::name_of(&key).to_owned())
        }
        _ => Cow::Borrowed(name),
    });
    // Escaping is the output syntax's, never HTML's: every template runs under one custom
    // auto-escape mode, so what minijinja marks safe (a macro's output, `super()`, a
    // `{% set %}` block, `|escape`d text) is written as it is, and any other value goes
    // through `Syntax::escape_value` exactly once, whatever the template's name ends in.
    env.set_auto_escape_callback(|_| AutoEscape::Custom(Cow::Borrowed("provedge")));
    env.set_formatter(move |out, _state, value| {
        if value.is_none() {
            return Ok(());
        }
        let text = match value.as_str() {
            Some(s) => Cow::Borrowed(s),
            None => Cow::Owned(value.to_string()),
        };
        if value.is_safe() {
            return out.write_str(&text).map_err(minijinja::Error::from);
        }
        let mut escaped = String::with_capacity(text.len());
        syntax.escape_value(&text, &mut escaped);
        out.write_str(&escaped).map_err(minijinja::Error::from)
    });
    for (key, source) in templates {
        env.add_template_owned(references::name_of(key).to_owned(), (*source).to_owned())
            .map_err(|e| failure(key, &e))?;
    }
    Ok(env)
}

/// A minijinja error as a [`TemplateError`] naming the template it happened in (a base or an
/// included template, when it was there) and its line.
fn failure(root: &StoreKey, e: &minijinja::Error) -> TemplateError {
    let key = match e.name() {
        Some(name) if name != references::name_of(root) => {
            references::key_of(name).map_or_else(|| name.to_owned(), |k| k.to_string())
        }
        _ => root.to_string(),
    };
    TemplateError {
        key,
        line: e.line(),
        message: describe(e),
    }
}

/// The error's kind and detail, without the debug dump (which could quote context values).
fn describe(e: &minijinja::Error) -> String {
    match e.detail() {
        Some(detail) => format!("{}: {detail}", e.kind()),
        None => e.kind().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::syntax::TextFlavor;

    fn key(s: &str) -> StoreKey {
        StoreKey::new(s).unwrap()
    }

    #[test]
    fn compiles_once_and_recompiles_on_change() {
        let cache = TemplateCache::default();
        let k = key("templates/yealink/@mac.cfg");
        let ctx = to_value(serde_json::json!({"name": "a"}));
        let text = Syntax::Text(TextFlavor::Plain);
        assert_eq!(
            cache
                .render_one(&k, "x = {{ name }}\n", text, ctx.clone())
                .unwrap(),
            "x = a\n"
        );
        assert_eq!(
            cache
                .render_one(&k, "x = {{ name }}\n", text, ctx.clone())
                .unwrap(),
            "x = a\n"
        );
        assert_eq!(cache.len(), 1);
        assert_eq!(
            cache.render_one(&k, "y = {{ name }}\n", text, ctx).unwrap(),
            "y = a\n"
        );
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn undefined_variables_and_syntax_errors_name_key_and_line() {
        let cache = TemplateCache::default();
        let k = key("templates/algo/algom@mac.conf");
        let text = Syntax::Text(TextFlavor::Plain);
        let e = cache
            .render_one(&k, "a = 1\nb = {{ nope }}\n", text, Value::from(()))
            .unwrap_err();
        assert_eq!(
            (e.key.as_str(), e.line),
            ("templates/algo/algom@mac.conf", Some(2))
        );
        let e = cache
            .render_one(&k, "a = 1\n\n{% if %}\n", text, Value::from(()))
            .unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        let e = cache
            .render_one(
                &k,
                "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
                text,
                Value::from(()),
            )
            .unwrap_err();
        assert!(e.message.contains("fuel"), "{e}");
    }

    #[test]
    fn values_cannot_break_the_syntax() {
        let cache = TemplateCache::default();
        let ctx = to_value(serde_json::json!({"v": "x\r\nadmin.pwd = owned\0 & <b>"}));
        let text = cache
            .render_one(
                &key("t/a.conf"),
                "name = {{ v }}\n",
                Syntax::Text(TextFlavor::Plain),
                ctx.clone(),
            )
            .unwrap();
        assert_eq!(text.lines().count(), 1, "{text:?}");
        let xml = cache
            .render_one(
                &key("t/a.xml"),
                "<a v=\"{{ v }}\">{{ v }}</a>",
                Syntax::Xml,
                ctx,
            )
            .unwrap();
        crate::render::xml::check_well_formed(&xml).unwrap();
    }

    #[test]
    fn a_template_renders_with_what_it_extends_includes_and_imports() {
        let cache = TemplateCache::default();
        let text = Syntax::Text(TextFlavor::Plain);
        let child = key("templates/yealink/t46s/@mac.cfg");
        let base = key("templates/yealink/base.cfg");
        let macros = key("templates/yealink/macros.cfg");
        let part = key("templates/yealink/part.cfg");
        let base_src = "{% import 'yealink/macros.cfg' as m %}\n\
            head\n{% block body %}default\n{% endblock %}\n\
            {% include 'Yealink/Part.cfg' %}\n{{ m.kv('model', model) }}\n";
        let render = |base_src: &str| {
            cache.render(
                &child,
                &[
                    (&child, "{% extends 'yealink/base.cfg' %}\n{% block body %}child {{ model }}\n{% endblock %}\n"),
                    (&base, base_src),
                    (&macros, "{% macro kv(k, v) %}{{ k }} = {{ v }}{% endmacro %}"),
                    (&part, "part\n"),
                ],
                text,
                to_value(serde_json::json!({"model": "t46s"})),
            )
        };
        assert_eq!(
            render(base_src).unwrap(),
            "head\nchild t46s\npart\nmodel = t46s\n"
        );
        assert_eq!(cache.len(), 1);
        // A changed base recompiles the child.
        let changed = base_src.replace("head", "HEAD");
        assert!(render(&changed).unwrap().starts_with("HEAD\n"));
        // An error in the base names the base and its line.
        let e = render("ok\n{{ nope }}\n").unwrap_err();
        assert_eq!(
            (e.key.as_str(), e.line),
            ("templates/yealink/base.cfg", Some(2)),
            "{e}"
        );
    }

    #[test]
    fn macro_output_and_super_are_written_once_escaped() {
        let cache = TemplateCache::default();
        let ctx = to_value(serde_json::json!({"v": "a&b\nc"}));
        let child = key("templates/x/child.xml");
        let base = key("templates/x/base.xml");
        let xml = cache
            .render(
                &child,
                &[
                    (
                        &child,
                        "{% extends 'x/base.xml' %}{% block b %}{{ super() }}<c v=\"{{ v }}\"/>{% endblock %}",
                    ),
                    (
                        &base,
                        "{% macro el(x) %}<m>{{ x }}</m>\n<n/>{% endmacro %}<r>{% block b %}{{ el(v) }}{% endblock %}{{ v | e }}</r>",
                    ),
                ],
                Syntax::Xml,
                ctx.clone(),
            )
            .unwrap();
        assert_eq!(
            xml,
            "<r><m>a&amp;bc</m>\n<n/><c v=\"a&amp;bc\"/>a&amp;bc</r>"
        );
        // In a line-based file a macro may write lines; a value still cannot.
        let text = cache
            .render_one(
                &key("templates/x/a.cfg"),
                "{% macro kv(k, v) %}{{ k }} = {{ v }}\n{% endmacro %}{{ kv('a', 1) }}{{ kv('b', v) }}{% set s %}x\ny{% endset %}{{ s }}",
                Syntax::Text(TextFlavor::Plain),
                ctx,
            )
            .unwrap();
        assert_eq!(text, "a = 1\nb = a&b c\nx\ny");
    }
}
