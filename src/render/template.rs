//! Templates: minijinja (Jinja2 syntax, as Wazo provd uses), compiled once and cached.
//!
//! Every template is compiled with strict undefined variables (a typo fails the render instead
//! of producing an empty value), a fuel limit (a runaway loop ends the render instead of the
//! VM), and a formatter for the output's syntax, so a value from device data can never break
//! the file it lands in: in XML it is escaped, in line-based formats it cannot end the line.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use minijinja::value::Value;
use minijinja::{Environment, UndefinedBehavior};

use super::syntax::Syntax;
use crate::key::StoreKey;

/// Instructions one render may spend; real templates use a few thousand.
const FUEL: u64 = 2_000_000;
/// Compiled templates kept per engine by default (`memory.template_entries`); beyond this the
/// cache starts over.
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

/// Compiled templates by store key and source hash: a changed template is recompiled, an
/// unchanged one never is.
pub struct TemplateCache {
    entries: Mutex<HashMap<(StoreKey, Syntax), Compiled>>,
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
            max_entries: entries.max(1),
        }
    }
}

/// A compiled template and the hash of the source it was compiled from.
type Compiled = (u64, Arc<Environment<'static>>);

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
    /// Renders `source` (stored at `key`) with `ctx`.
    pub fn render(
        &self,
        key: &StoreKey,
        source: &str,
        syntax: Syntax,
        ctx: Value,
    ) -> Result<String, TemplateError> {
        let env = self.compiled(key, source, syntax)?;
        let fail = |e: minijinja::Error| TemplateError {
            key: key.to_string(),
            line: e.line(),
            message: describe(&e),
        };
        env.get_template(key.as_str())
            .map_err(fail)?
            .render(ctx)
            .map_err(fail)
    }

    /// How many templates are compiled (for tests and metrics).
    pub fn len(&self) -> usize {
        self.entries.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// Whether nothing is compiled yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn compiled(
        &self,
        key: &StoreKey,
        source: &str,
        syntax: Syntax,
    ) -> Result<Arc<Environment<'static>>, TemplateError> {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        source.hash(&mut hasher);
        let hash = hasher.finish();
        let cache_key = (key.clone(), syntax);
        if let Ok(entries) = self.entries.lock() {
            if let Some((h, env)) = entries.get(&cache_key) {
                if *h == hash {
                    return Ok(Arc::clone(env));
                }
            }
        }
        let env = Arc::new(compile(key, source, syntax)?);
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= self.max_entries {
                entries.clear();
            }
            entries.insert(cache_key, (hash, Arc::clone(&env)));
        }
        Ok(env)
    }
}

fn compile(
    key: &StoreKey,
    source: &str,
    syntax: Syntax,
) -> Result<Environment<'static>, TemplateError> {
    let mut env = Environment::empty();
    super::vocabulary::install(&mut env);
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    // Config files are line-based: block tags should not leave blank lines behind, and the
    // final newline is part of the file.
    let whitespace = minijinja::syntax::SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .keep_trailing_newline(true)
        .build()
        .map_err(|e| TemplateError {
            key: key.to_string(),
            line: None,
            message: describe(&e),
        })?;
    env.set_syntax(whitespace);
    env.set_formatter(move |out, _state, value| {
        if value.is_none() {
            return Ok(());
        }
        let text = match value.as_str() {
            Some(s) => std::borrow::Cow::Borrowed(s),
            None => std::borrow::Cow::Owned(value.to_string()),
        };
        if value.is_safe() {
            return out.write_str(&text).map_err(minijinja::Error::from);
        }
        let mut escaped = String::with_capacity(text.len());
        syntax.escape_value(&text, &mut escaped);
        out.write_str(&escaped).map_err(minijinja::Error::from)
    });
    env.add_template_owned(key.to_string(), source.to_owned())
        .map_err(|e| TemplateError {
            key: key.to_string(),
            line: e.line(),
            message: describe(&e),
        })?;
    Ok(env)
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
                .render(&k, "x = {{ name }}\n", text, ctx.clone())
                .unwrap(),
            "x = a\n"
        );
        assert_eq!(
            cache
                .render(&k, "x = {{ name }}\n", text, ctx.clone())
                .unwrap(),
            "x = a\n"
        );
        assert_eq!(cache.len(), 1);
        assert_eq!(
            cache.render(&k, "y = {{ name }}\n", text, ctx).unwrap(),
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
            .render(&k, "a = 1\nb = {{ nope }}\n", text, Value::from(()))
            .unwrap_err();
        assert_eq!(
            (e.key.as_str(), e.line),
            ("templates/algo/algom@mac.conf", Some(2))
        );
        let e = cache
            .render(&k, "a = 1\n\n{% if %}\n", text, Value::from(()))
            .unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        let e = cache
            .render(
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
            .render(
                &key("t/a.conf"),
                "name = {{ v }}\n",
                Syntax::Text(TextFlavor::Plain),
                ctx.clone(),
            )
            .unwrap();
        assert_eq!(text.lines().count(), 1, "{text:?}");
        let xml = cache
            .render(
                &key("t/a.xml"),
                "<a v=\"{{ v }}\">{{ v }}</a>",
                Syntax::Xml,
                ctx,
            )
            .unwrap();
        crate::render::xml::check_well_formed(&xml).unwrap();
    }
}
