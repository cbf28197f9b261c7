//! Tancredi's scope files as PHP's `parse_ini_file($file, true)` reads them (normal scanner
//! mode), for the subset Tancredi writes and people write by hand.
//!
//! What is read: `[section]` headers, `key = value` lines, `;` comments and blank lines.
//! Values are
//! - double-quoted (`"…"`), where `\"`, `\\` and `\$` stand for `"`, `\` and `$` and any other
//!   backslash is kept as it is (PHP's `zend_ini_escape_string`; Tancredi's writer escapes only
//!   `"`, as `\"`);
//! - single-quoted (`'…'`), taken as they are;
//! - unquoted, trimmed, up to a `;` comment, where the words `yes`, `on`, `true` read as `"1"`
//!   and `no`, `off`, `false`, `none`, `null` as `""`, in any case, as PHP reads them;
//! - absent (`key =`), which reads as `""`.
//!
//! Anything whose meaning in PHP this reader does not reproduce is refused with its line
//! rather than read differently: `${…}` expansion, the operators and special characters PHP
//! gives a meaning in unquoted values (`= & | ^ ~ ! ( ) { } [ ] "`), a quoted value that runs
//! past its line or is followed by more text, a line without `=`, `#` comments (not comments
//! since PHP 7). Unquoted PHP constant names (`PHP_EOL`) are read as the words they are.
//! `key[] = …` and `key[k] = …` (arrays) are read as [`Section::arrays`], for the caller to
//! decide on. Messages name the line and the key, never a value: values hold passwords.

use std::collections::BTreeMap;

/// A parsed INI file: its sections by name (keys before the first section are dropped, as
/// Tancredi reads only `[metadata]` and `[data]`).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Ini {
    pub sections: BTreeMap<String, Section>,
}

/// One section's scalar values and the arrays it declares.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Section {
    /// Key → value; a key given twice keeps its last value, as in PHP.
    pub values: BTreeMap<String, String>,
    /// The `name[…] = …` lines: (line number, name).
    pub arrays: Vec<(usize, String)>,
}

/// A line this reader refuses: its 1-based number and why (never quoting a value).
#[derive(Debug, PartialEq, Eq)]
pub struct IniError {
    pub line: usize,
    pub reason: String,
}

impl Ini {
    /// The values of `name`, empty when the file has no such section.
    pub fn values(&self, name: &str) -> BTreeMap<String, String> {
        self.sections
            .get(name)
            .map(|s| s.values.clone())
            .unwrap_or_default()
    }
}

/// Characters PHP gives a meaning in an unquoted value (operators, expansion, quotes, arrays).
const SPECIAL_IN_UNQUOTED: &[char] = &[
    '=', '&', '|', '^', '~', '!', '(', ')', '{', '}', '[', ']', '"', '$',
];

/// Characters that cannot be in a key (PHP's `TC_LABEL`), besides the `[` of an array.
const NOT_IN_KEY: &[char] = &[
    ';', '&', '|', '^', '$', '~', '(', ')', '{', '}', '!', '"', '\t',
];

/// Parses a scope file, or names the first line it refuses.
pub fn parse(text: &str) -> Result<Ini, IniError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut ini = Ini::default();
    let mut current: Option<String> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let fail = |reason: String| IniError { line, reason };
        let t = raw.trim();
        if t.is_empty() || t.starts_with(';') {
            continue;
        }
        if t.starts_with('#') {
            return Err(fail("`#` is not a comment in PHP INI (use `;`)".into()));
        }
        if let Some(rest) = t.strip_prefix('[') {
            let Some((name, after)) = rest.split_once(']') else {
                return Err(fail("a section header without `]`".into()));
            };
            if !is_blank_or_comment(after) {
                return Err(fail("text after the section header".into()));
            }
            let name = name.trim().trim_matches('"').to_owned();
            ini.sections.entry(name.clone()).or_default();
            current = Some(name);
            continue;
        }
        let Some((key, value)) = t.split_once('=') else {
            return Err(fail(
                "no `=` (PHP reads a bare name as a value-less key)".into(),
            ));
        };
        let key = key.trim();
        let (name, is_array) = match key.split_once('[') {
            Some((name, index))
                if index.ends_with(']') && !index[..index.len() - 1].contains(['[', ']']) =>
            {
                (name.trim_end(), true)
            }
            Some(_) => return Err(fail(format!("the key {key:?} is not `name` or `name[…]`"))),
            None => (key, false),
        };
        if name.is_empty() {
            return Err(fail("an empty key".into()));
        }
        if name.contains(NOT_IN_KEY) || name.contains(']') {
            return Err(fail(format!(
                "the key {name:?} holds a character PHP does not allow in a key"
            )));
        }
        let value = read_value(value).map_err(|reason| fail(format!("{name}: {reason}")))?;
        let Some(section) = current.as_ref().and_then(|s| ini.sections.get_mut(s)) else {
            // Outside any section: PHP keeps it at the top level, which Tancredi never reads.
            continue;
        };
        if is_array {
            section.values.remove(name);
            section.arrays.push((line, name.to_owned()));
        } else {
            section.values.insert(name.to_owned(), value);
        }
    }
    Ok(ini)
}

fn is_blank_or_comment(s: &str) -> bool {
    let s = s.trim();
    s.is_empty() || s.starts_with(';')
}

/// The value after `=`, as PHP reads it; or why it is refused (never quoting it).
fn read_value(raw: &str) -> Result<String, String> {
    let v = raw.trim_start();
    if let Some(rest) = v.strip_prefix('"') {
        let (value, after) = double_quoted(rest)?;
        if !is_blank_or_comment(after) {
            return Err("text after the closing quote (PHP would join it on)".into());
        }
        return Ok(value);
    }
    if let Some(rest) = v.strip_prefix('\'') {
        let Some((value, after)) = rest.split_once('\'') else {
            return Err("a single-quoted value that does not end on its line".into());
        };
        if !is_blank_or_comment(after) {
            return Err("text after the closing quote (PHP would join it on)".into());
        }
        return Ok(value.to_owned());
    }
    let unquoted = v.split(';').next().unwrap_or("").trim();
    if unquoted.contains(SPECIAL_IN_UNQUOTED) {
        return Err(
            "an unquoted value with a character PHP reads as an operator, expansion or quote \
             (quote the value)"
                .into(),
        );
    }
    Ok(match unquoted.to_ascii_lowercase().as_str() {
        "yes" | "on" | "true" => "1".into(),
        "no" | "off" | "false" | "none" | "null" => String::new(),
        _ => unquoted.to_owned(),
    })
}

/// A double-quoted value after its opening quote: the value, and the text after the closing
/// quote.
fn double_quoted(rest: &str) -> Result<(String, &str), String> {
    let mut value = String::with_capacity(rest.len());
    let mut chars = rest.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((value, &rest[i + 1..])),
            '\\' => match chars.next() {
                Some((_, e @ ('"' | '\\' | '$'))) => value.push(e),
                Some((_, e)) => {
                    value.push('\\');
                    value.push(e);
                }
                None => value.push('\\'),
            },
            '$' if rest[i + 1..].starts_with('{') => {
                return Err("`${…}` expansion, which this importer does not reproduce".into())
            }
            c => value.push(c),
        }
    }
    Err("a quoted value that does not end on its line (multi-line values are not read)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(text: &str) -> BTreeMap<String, String> {
        parse(&format!("[data]\n{text}")).unwrap().values("data")
    }

    fn refused(text: &str) -> IniError {
        parse(&format!("[data]\n{text}")).unwrap_err()
    }

    #[test]
    fn tancredis_own_files_read_as_php_reads_them() {
        let ini = parse(
            "[metadata]\ninheritFrom = \"\"\nscopeType = \"defaults\"\nversion = 4\n\n\
             [data]\ncap_ldap_tls_blacklist = starttls\ntmpl_phone = \"fallback.tmpl\"\n\
             provisioning_url_filename = \nbrightness = 5\ncap_brightness =\n\
             ldap_number_filter = \"(|(telephoneNumber=%)(mobile=%))\"\n",
        )
        .unwrap();
        let meta = ini.values("metadata");
        assert_eq!(meta["scopeType"], "defaults");
        assert_eq!(meta["inheritFrom"], "");
        assert_eq!(meta["version"], "4");
        let data = ini.values("data");
        assert_eq!(data["cap_ldap_tls_blacklist"], "starttls");
        assert_eq!(data["tmpl_phone"], "fallback.tmpl");
        assert_eq!(data["provisioning_url_filename"], "");
        assert_eq!(data["cap_brightness"], "");
        assert_eq!(data["brightness"], "5");
        assert_eq!(
            data["ldap_number_filter"],
            "(|(telephoneNumber=%)(mobile=%))"
        );
    }

    #[test]
    fn unquoted_words_are_php_booleans_and_quoted_ones_are_not() {
        let d = data(
            "a = yes\nb = On\nc = TRUE\nd = no\ne = Off\nf = false\ng = NONE\nh = null\n\
             i = \"yes\"\nj = \"NO\"\nk = YESNO\nl = 0\n",
        );
        let got: Vec<&str> = d.values().map(String::as_str).collect();
        assert_eq!(
            got,
            ["1", "1", "1", "", "", "", "", "", "yes", "NO", "YESNO", "0"]
        );
    }

    #[test]
    fn escapes_comments_and_spaces() {
        let d = data(
            "a = \"say \\\"hi\\\"\"\nb = \"back\\\\slash \\n \\$x\"  ; note\nc =  two words ; c\n\
             d = 'raw \\\" ;'\n  e=1\n; f = 2\n\r\n",
        );
        assert_eq!(d["a"], "say \"hi\"");
        assert_eq!(d["b"], "back\\slash \\n $x");
        assert_eq!(d["c"], "two words");
        assert_eq!(d["d"], "raw \\\" ;");
        assert_eq!(d["e"], "1");
        assert!(!d.contains_key("f"));
    }

    #[test]
    fn the_last_of_a_repeated_key_wins_and_arrays_are_set_aside() {
        let ini = parse("[data]\na = 1\na = 2\nlist[] = x\nmap[k] = y\n[data]\nb = 3\n").unwrap();
        let s = &ini.sections["data"];
        assert_eq!(s.values["a"], "2");
        assert_eq!(s.values["b"], "3");
        assert_eq!(s.arrays, [(4, "list".to_owned()), (5, "map".to_owned())]);
    }

    #[test]
    fn what_php_reads_differently_is_refused_by_line_without_the_value() {
        for (text, reason) in [
            ("x = \"s3cret", "does not end on its line"),
            ("x = \"s3cret\" more", "text after the closing quote"),
            ("x = s3cret|1", "operator"),
            ("x = \"s3cret${HOME}\"", "expansion"),
            ("x = s3cret=", "operator"),
            ("s3cret", "no `=`"),
            ("# s3cret = 1", "`#`"),
            (" = s3cret", "an empty key"),
            ("a(b) = s3cret", "does not allow"),
        ] {
            let e = refused(text);
            assert_eq!(e.line, 2, "{text}");
            assert!(e.reason.contains(reason), "{text}: {}", e.reason);
            assert!(!e.reason.contains("s3cret"), "{text}: {}", e.reason);
        }
        assert_eq!(parse("[data\n").unwrap_err().line, 1);
    }

    #[test]
    fn an_empty_data_section_and_any_metadata_order_are_fine() {
        let ini = parse(
            "\u{feff}[metadata]\nscopeType = \"phone\"\ndisplayName = \"x\"\ninheritFrom = \"nethesis-NPX5v2\"\n[data]\n",
        )
        .unwrap();
        assert_eq!(ini.values("metadata")["inheritFrom"], "nethesis-NPX5v2");
        assert!(ini.values("data").is_empty());
    }
}
