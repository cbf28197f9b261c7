//! Which other templates a template reads, and the closure of templates one render needs.
//!
//! `{% extends %}`, `{% include %}`, `{% import %}` and `{% from … import %}` name templates by
//! their store key below `templates/` (`{% extends "yealink/base.cfg" %}` reads
//! `templates/yealink/base.cfg`, in the request's tenant namespace). The core never reads the
//! store itself, so before a render it must know every template the render can touch and ask
//! the host for them in fetch rounds. It finds them by reading the template's tokens with
//! minijinja's own tokenizer (comments, `{% raw %}` blocks and string escapes are handled
//! exactly as the template engine handles them), so every name must be a string literal, or a
//! list of them for `include`: a computed name is refused with the template's key and line.
//!
//! [`closure`] walks from the file's template through what it references, level by level,
//! using the sources read so far; a template not read yet contributes the references it had
//! the last time it was read (remembered in [`TemplateCache`]), so a phone's steady re-check
//! names every template in its first and only round. The walk is bounded: at most
//! [`MAX_DEPTH`] levels below the file's template and [`MAX_TEMPLATES`] templates besides it.

use std::sync::Arc;

use minijinja::machinery::{Token, Tokenizer};

use super::template::{TemplateCache, TemplateError};
use crate::key::StoreKey;
use crate::response::Lookup;

/// Levels of templates below a file's own (a child, its base, the base's include, …). Each
/// level can cost a store round the first time, and a request may take at most eight.
pub const MAX_DEPTH: usize = 5;
/// Templates one render may use besides the file's own.
pub const MAX_TEMPLATES: usize = 32;

/// The folder template names are relative to.
pub const TEMPLATES: &str = "templates/";

/// One statement that reads another template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    /// `extends`, `include`, `import` or `from`.
    pub statement: &'static str,
    /// The keys named (`templates/<name>`): one, or an include's list of candidates.
    pub keys: Vec<StoreKey>,
    /// The line the statement is on.
    pub line: usize,
    /// `include … ignore missing`: nothing needs to exist.
    pub ignore_missing: bool,
}

/// A statement the scanner refuses: its line and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanError {
    pub line: usize,
    pub message: String,
}

/// The store key a template name stands for: `templates/<name>`, lower case like every key.
pub fn key_of(name: &str) -> Option<StoreKey> {
    StoreKey::join(&[TEMPLATES, name])
}

/// The template name of a key below `templates/` (how minijinja knows the template).
pub fn name_of(key: &StoreKey) -> &str {
    key.as_str().strip_prefix(TEMPLATES).unwrap_or(key.as_str())
}

/// Every statement in `source` that reads another template. A source that does not tokenize
/// has no references here: compiling it reports the syntax error with its line.
pub fn scan(source: &str) -> Result<Vec<Reference>, ScanError> {
    let mut tokens = Tokenizer::new(source, "<template>", false, super::template::syntax());
    let mut next = move || match tokens.next_token() {
        Ok(Some((token, span))) => Some((token, usize::from(span.start_line))),
        Ok(None) | Err(_) => None,
    };
    let mut found = Vec::new();
    let mut after_block_start = false;
    while let Some((token, line)) = next() {
        let statement = match (&token, after_block_start) {
            (Token::Ident("extends"), true) => "extends",
            (Token::Ident("include"), true) => "include",
            (Token::Ident("import"), true) => "import",
            (Token::Ident("from"), true) => "from",
            _ => {
                after_block_start = matches!(token, Token::BlockStart);
                continue;
            }
        };
        after_block_start = false;
        let computed = || ScanError {
            line,
            message: format!(
                "`{statement}` must name its template with a string literal{}: templates are \
                 read from the store before rendering",
                if statement == "include" {
                    " or a list of them"
                } else {
                    ""
                }
            ),
        };
        let mut names = Vec::new();
        match next() {
            Some((Token::Str(s), _)) => names.push(s.to_owned()),
            Some((Token::String(s), _)) => names.push(s.into_string()),
            Some((Token::BracketOpen, _)) if statement == "include" => loop {
                match next() {
                    Some((Token::Str(s), _)) => names.push(s.to_owned()),
                    Some((Token::String(s), _)) => names.push(s.into_string()),
                    Some((Token::BracketClose, _)) => break,
                    _ => return Err(computed()),
                }
                match next() {
                    Some((Token::Comma, _)) => {}
                    Some((Token::BracketClose, _)) => break,
                    _ => return Err(computed()),
                }
            },
            _ => return Err(computed()),
        }
        // What may follow a literal name; anything else (`~`, `|`, `if`, `.`) computes one.
        let mut ignore_missing = false;
        let mut first = true;
        loop {
            match next() {
                None | Some((Token::BlockEnd, _)) => break,
                Some((Token::Ident(word), _)) if first => {
                    if !matches!(word, "as" | "import" | "ignore" | "with" | "without") {
                        return Err(computed());
                    }
                    ignore_missing |= word == "ignore";
                }
                Some((Token::Ident("ignore"), _)) => ignore_missing = true,
                Some(_) if first => return Err(computed()),
                Some(_) => {}
            }
            first = false;
        }
        let keys = names
            .iter()
            .map(|name| {
                key_of(name).ok_or_else(|| ScanError {
                    line,
                    message: format!("`{statement}` names {name:?}, which is not a store key"),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Err(computed());
        }
        found.push(Reference {
            statement,
            keys,
            line,
            ignore_missing,
        });
    }
    Ok(found)
}

/// The templates one render reads.
#[derive(Debug, Default)]
pub struct Closure {
    /// The file's template first, then every template reached, each once, in the order found
    /// (the order the render cache hashes them in). Includes keys not read yet, and the
    /// candidates of a list or `ignore missing` include that turned out missing.
    pub keys: Vec<StoreKey>,
}

/// Walks from `root` through the templates it references. `read` says what the host returned
/// for a key so far (`None`: not read yet); `namespace` is the tenant's key prefix, under which
/// the remembered references are kept. Faults (a missing template that must exist, too deep,
/// too many, a computed name) are only raised from sources actually read, never from
/// remembered references.
pub fn closure<'a>(
    root: &StoreKey,
    read: impl Fn(&StoreKey) -> Option<&'a Lookup>,
    cache: &TemplateCache,
    namespace: &str,
) -> Result<Closure, TemplateError> {
    let mut keys = vec![root.clone()];
    let mut depths = vec![0usize];
    let mut at = 0;
    while let (Some(key), Some(depth)) = (keys.get(at).cloned(), depths.get(at).copied()) {
        at += 1;
        let references: Arc<[Reference]> = match read(&key) {
            Some(Lookup::Found(bytes)) => cache
                .references(&scoped(namespace, &key), bytes)
                .map_err(|e| TemplateError {
                    key: key.to_string(),
                    line: Some(e.line),
                    message: e.message,
                })?,
            Some(_) => continue,
            None => match cache.remembered(&scoped(namespace, &key)) {
                Some(references) => references,
                None => continue,
            },
        };
        let actual = read(&key).is_some();
        let fault = |line: usize, message: String| TemplateError {
            key: key.to_string(),
            line: Some(line),
            message,
        };
        for reference in references.iter() {
            if depth + 1 > MAX_DEPTH {
                if !actual {
                    break;
                }
                return Err(fault(
                    reference.line,
                    format!(
                        "`{}` goes deeper than {MAX_DEPTH} levels of templates below {root}",
                        reference.statement
                    ),
                ));
            }
            for k in &reference.keys {
                if keys.contains(k) {
                    continue;
                }
                if keys.len() > MAX_TEMPLATES {
                    if !actual {
                        break;
                    }
                    return Err(fault(
                        reference.line,
                        format!("{root} uses more than {MAX_TEMPLATES} other templates"),
                    ));
                }
                keys.push(k.clone());
                depths.push(depth + 1);
            }
            if actual && !reference.ignore_missing {
                missing(reference, &read).map_err(|m| fault(reference.line, m))?;
            }
        }
    }
    Ok(Closure { keys })
}

/// A reference none of whose templates exist, once all of them are read.
fn missing<'a>(
    reference: &Reference,
    read: &impl Fn(&StoreKey) -> Option<&'a Lookup>,
) -> Result<(), String> {
    let lookups: Vec<_> = reference.keys.iter().map(read).collect();
    let all_missing = lookups.iter().all(|l| matches!(l, Some(Lookup::Missing)));
    if !all_missing {
        return Ok(());
    }
    let names: Vec<&str> = reference.keys.iter().map(StoreKey::as_str).collect();
    Err(match names.as_slice() {
        [one] => format!(
            "`{}` reads {one}, which is not in the store",
            reference.statement
        ),
        many => format!(
            "`{}` reads one of {}, none of which is in the store",
            reference.statement,
            many.join(", ")
        ),
    })
}

/// A key as remembered across requests: with the tenant's namespace.
fn scoped(namespace: &str, key: &StoreKey) -> StoreKey {
    if namespace.is_empty() {
        key.clone()
    } else {
        StoreKey::trusted(format!("{namespace}{key}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(source: &str) -> Vec<(&'static str, Vec<String>, usize, bool)> {
        scan(source)
            .unwrap()
            .into_iter()
            .map(|r| {
                (
                    r.statement,
                    r.keys.iter().map(|k| k.to_string()).collect(),
                    r.line,
                    r.ignore_missing,
                )
            })
            .collect()
    }

    fn k(s: &str) -> StoreKey {
        StoreKey::new(s).unwrap()
    }

    #[test]
    fn finds_every_statement_that_reads_a_template() {
        let source = "{% extends \"yealink/base.cfg\" %}\n\
            {% import 'yealink/macros.cfg' as m %}\n\
            {%- from \"Yealink/Keys.cfg\" import linekey, blf with context -%}\n\
            {% block accounts %}{% include \"yealink/acct.cfg\" %}{% endblock %}\n\
            {% include [\"yealink/t46s.cfg\", \"yealink/none.cfg\"] ignore missing %}\n\
            {% include \"a\\u0062.cfg\" without context %}\n";
        assert_eq!(
            names(source),
            [
                (
                    "extends",
                    vec!["templates/yealink/base.cfg".into()],
                    1,
                    false
                ),
                (
                    "import",
                    vec!["templates/yealink/macros.cfg".into()],
                    2,
                    false
                ),
                ("from", vec!["templates/yealink/keys.cfg".into()], 3, false),
                (
                    "include",
                    vec!["templates/yealink/acct.cfg".into()],
                    4,
                    false
                ),
                (
                    "include",
                    vec![
                        "templates/yealink/t46s.cfg".into(),
                        "templates/yealink/none.cfg".into()
                    ],
                    5,
                    true
                ),
                ("include", vec!["templates/ab.cfg".into()], 6, false),
            ]
        );
    }

    #[test]
    fn ignores_what_is_not_a_statement() {
        let source = "{# {% include 'no1' %} #}\n\
            {% raw %}{% extends 'no2' %}{% endraw %}\n\
            {{ \"{% include 'no3' %}\" }}\n\
            {% set include = 'no4' %}{% for import in [1] %}{% endfor %}\n\
            include \"no5\"\n";
        assert_eq!(names(source), []);
    }

    #[test]
    fn computed_and_unsafe_names_are_refused_with_their_line() {
        for (source, line) in [
            ("a\n{% include 'x/' ~ model ~ '.cfg' %}", 2),
            ("{% extends base %}", 1),
            ("\n\n{% import 'a' | lower as m %}", 3),
            ("{% include 'a' if x else 'b' %}", 1),
            ("{% include ['a', b] %}", 1),
            ("{% extends ['a'] %}", 1),
            ("{% include '../secret' %}", 1),
            ("{% include 'a b' %}", 1),
        ] {
            let e = scan(source).unwrap_err();
            assert_eq!(e.line, line, "{source}: {e:?}");
        }
    }

    #[test]
    fn closure_reads_level_by_level_and_checks_what_was_read() {
        let cache = TemplateCache::default();
        let mut store: Vec<(StoreKey, Lookup)> = vec![(
            k("templates/y/t46s/@mac.cfg"),
            Lookup::Found(b"{% extends 'y/base.cfg' %}".into()),
        )];
        let root = k("templates/y/t46s/@mac.cfg");
        let walk = |store: &Vec<(StoreKey, Lookup)>| {
            closure(
                &root,
                |key| store.iter().find(|(k, _)| k == key).map(|(_, l)| l),
                &cache,
                "",
            )
        };
        let c = walk(&store).unwrap();
        assert_eq!(c.keys, [root.clone(), k("templates/y/base.cfg")]);
        store.push((
            k("templates/y/base.cfg"),
            Lookup::Found(
                b"{% import 'y/m.cfg' as m %}{% include 'y/opt.cfg' ignore missing %}".into(),
            ),
        ));
        let c = walk(&store).unwrap();
        assert_eq!(c.keys.len(), 4);
        store.push((k("templates/y/opt.cfg"), Lookup::Missing));
        store.push((k("templates/y/m.cfg"), Lookup::Missing));
        let e = walk(&store).unwrap_err();
        assert_eq!(
            (e.key.as_str(), e.line),
            ("templates/y/base.cfg", Some(1)),
            "{e}"
        );
        assert!(e.message.contains("templates/y/m.cfg"), "{e}");
    }

    #[test]
    fn closure_is_bounded_in_depth_and_count() {
        let cache = TemplateCache::default();
        let root = k("templates/d0");
        let chain: Vec<(StoreKey, Lookup)> = (0..8)
            .map(|i| {
                (
                    k(&format!("templates/d{i}")),
                    Lookup::Found(format!("{{% include 'd{}' %}}", i + 1).into_bytes().into()),
                )
            })
            .collect();
        let e = closure(
            &root,
            |key| chain.iter().find(|(k, _)| k == key).map(|(_, l)| l),
            &cache,
            "",
        )
        .unwrap_err();
        assert_eq!(e.key, "templates/d5");
        assert!(e.message.contains("deeper than 5"), "{e}");
        let wide: String = (0..40).map(|i| format!("{{% include 'w{i}' %}}")).collect();
        let store = [(root.clone(), Lookup::Found(wide.into_bytes().into()))];
        let e = closure(
            &root,
            |key| store.iter().find(|(k, _)| k == key).map(|(_, l)| l),
            &cache,
            "",
        )
        .unwrap_err();
        assert!(e.message.contains("more than 32"), "{e}");
    }
}
