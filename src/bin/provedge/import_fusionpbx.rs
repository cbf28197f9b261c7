//! `provedge import fusionpbx DIR --store STORE [--mapping FILE] [--dry-run]`
//!
//! Converts FusionPBX's provisioning templates (`resources/templates/provision`, holding
//! `<vendor>/<model>/<file>` in Smarty) into the store's `templates/<vendor>/<model>/`, so the
//! store's devices of that model render with them. File names with `{$mac}` get `@mac`;
//! Grandstream's `{$mac}.xml` becomes the P-value text `cfg@mac.pvalues`. Every construct
//! that cannot be converted is reported with its file and line, and a file with any such
//! construct is not written at all. Exit status: 0 when everything converted, 1 when something
//! was refused (the rest is written), 2 for a usage error. docs/fusionpbx.md has the details.

#[path = "import_mapping.rs"]
pub mod mapping;
#[path = "import_smarty.rs"]
pub mod smarty;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use provedge::{StoreKey, Vendor};

use self::mapping::Mapping;
use self::smarty::Refusal;

#[derive(clap::Args)]
pub struct Args {
    /// FusionPBX's `resources/templates/provision` folder (`<vendor>/<model>/<file>`).
    #[arg(required_unless_present = "print_mapping")]
    dir: Option<PathBuf>,
    /// The store folder to write `templates/<vendor>/<model>/…` into.
    #[arg(long, required_unless_present_any = ["print_mapping", "dry_run"])]
    store: Option<PathBuf>,
    /// A JSON mapping laid over the built-in one (see `--print-mapping`).
    #[arg(long)]
    mapping: Option<PathBuf>,
    /// Convert and report, write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print the built-in mapping (JSON) and exit.
    #[arg(long)]
    print_mapping: bool,
}

pub fn run(args: Args) -> ExitCode {
    if args.print_mapping {
        println!("{}", mapping::DEFAULT);
        return ExitCode::SUCCESS;
    }
    let mapping = match &args.mapping {
        None => Mapping::builtin(),
        Some(path) => match std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|json| Mapping::with_overrides(&json))
        {
            Ok(m) => m,
            Err(e) => {
                eprintln!("--mapping {}: {e}", path.display());
                return ExitCode::from(2);
            }
        },
    };
    let Some(dir) = args.dir.as_deref() else {
        return ExitCode::from(2);
    };
    let report = match import(dir, &mapping) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{}: {e}", dir.display());
            return ExitCode::from(2);
        }
    };
    let mut written = 0;
    for outcome in &report {
        match &outcome.result {
            Outcome::Converted { key, text } => {
                if !args.dry_run {
                    if let Some(store) = &args.store {
                        let path = store.join(key.as_str());
                        let done = path
                            .parent()
                            .map_or(Ok(()), std::fs::create_dir_all)
                            .and_then(|()| std::fs::write(&path, text));
                        if let Err(e) = done {
                            eprintln!("{}: {e}", path.display());
                            return ExitCode::FAILURE;
                        }
                        written += 1;
                    }
                }
                println!("converted {} -> {key}", outcome.file);
            }
            Outcome::Refused(refusals) => {
                for r in refusals {
                    println!(
                        "refused   {} line {}: {}: {}",
                        outcome.file, r.line, r.construct, r.reason
                    );
                }
            }
            Outcome::Skipped(why) => println!("skipped   {}: {why}", outcome.file),
        }
    }
    let count = |f: fn(&Outcome) -> bool| report.iter().filter(|o| f(&o.result)).count();
    let refused = count(|o| matches!(o, Outcome::Refused(_)));
    println!(
        "{} converted ({written} written), {refused} refused (not written), {} skipped",
        count(|o| matches!(o, Outcome::Converted { .. })),
        count(|o| matches!(o, Outcome::Skipped(_))),
    );
    if refused > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// What became of one file.
pub struct FileOutcome {
    /// The file, relative to DIR.
    pub file: String,
    pub result: Outcome,
}

pub enum Outcome {
    /// The store key it goes to and the converted template.
    Converted { key: StoreKey, text: String },
    /// What could not be converted; nothing is written.
    Refused(Vec<Refusal>),
    /// Not a template provedge serves.
    Skipped(String),
}

/// Converts every file under `dir`, in path order.
pub fn import(dir: &Path, mapping: &Mapping) -> std::io::Result<Vec<FileOutcome>> {
    let mut out = Vec::new();
    for vendor_dir in sorted(dir)? {
        let vendor_name = file_name(&vendor_dir).to_ascii_lowercase();
        if !vendor_dir.is_dir() {
            out.push(skip(
                dir,
                &vendor_dir,
                "not in a `<vendor>/<model>/` folder",
            ));
            continue;
        }
        let Some(vendor) = Vendor::from_name(&vendor_name) else {
            for f in walk(&vendor_dir)? {
                out.push(skip(dir, &f, "provedge serves no vendor of that name"));
            }
            continue;
        };
        for model_dir in sorted(&vendor_dir)? {
            if !model_dir.is_dir() {
                out.push(skip(dir, &model_dir, "not in a `<vendor>/<model>/` folder"));
                continue;
            }
            let model = file_name(&model_dir).to_ascii_lowercase();
            for file in walk(&model_dir)? {
                let rel = relative(dir, &file);
                let result = if file.parent() != Some(model_dir.as_path()) {
                    Outcome::Skipped("deeper than `<vendor>/<model>/<file>`".into())
                } else {
                    convert_file(&file, vendor, &vendor_name, &model, mapping)
                };
                out.push(FileOutcome { file: rel, result });
            }
        }
    }
    Ok(out)
}

/// One file: its store key, then its conversion.
fn convert_file(
    file: &Path,
    vendor: Vendor,
    vendor_name: &str,
    model: &str,
    mapping: &Mapping,
) -> Outcome {
    let name = file_name(file);
    let lower = name.to_ascii_lowercase();
    let ext = lower.rsplit_once('.').map_or("", |(_, e)| e);
    if lower.starts_with("readme")
        || [
            "md", "docx", "odt", "ott", "pdf", "ini", "png", "jpg", "gif", "bmp", "sm",
        ]
        .contains(&ext)
    {
        return Outcome::Skipped("not a template".into());
    }
    let Ok(source) = std::fs::read_to_string(file) else {
        return Outcome::Skipped("not UTF-8 text".into());
    };
    let mut target = lower.replace("{$mac}", "@mac").replace("${mac}", "@mac");
    let grandstream_device_file = vendor == Vendor::Grandstream && target == "@mac.xml";
    if grandstream_device_file {
        target = "cfg@mac.pvalues".into();
    }
    if target.contains(['{', '}', '$']) {
        return Outcome::Skipped(format!(
            "the name {name:?} holds a variable other than {{$mac}}"
        ));
    }
    let Some(key) = StoreKey::join(&["templates/", vendor.name(), "/", model, "/", &target]) else {
        return Outcome::Skipped(format!("{target:?} is not a store key"));
    };
    let (source, mut refusals) = if grandstream_device_file {
        pvalues_from_xml(&source)
    } else {
        (source, Vec::new())
    };
    let converted = smarty::convert(&source, mapping, vendor_name);
    refusals.extend(converted.refusals);
    if refusals.is_empty() {
        if let Err(e) = compiles(&key, &converted.text) {
            refusals.push(Refusal {
                line: e.line.unwrap_or(0),
                construct: "(the converted template)".into(),
                reason: format!("does not compile: {}", e.message),
            });
        }
    }
    if refusals.is_empty() {
        Outcome::Converted {
            key,
            text: converted.text,
        }
    } else {
        refusals.sort_by_key(|r| r.line);
        Outcome::Refused(refusals)
    }
}

/// Whether provedge's template engine accepts the converted text (a safety net: the
/// conversion is meant to produce only what compiles).
fn compiles(key: &StoreKey, text: &str) -> Result<(), provedge::render::TemplateError> {
    let cache = provedge::render::TemplateCache::default();
    let ctx = provedge::render::template::to_value(serde_json::json!({
        "mac": "000000000000", "mac_upper": "000000000000", "model": "", "vendor": "",
        "file": "", "scope": "device", "lines": [], "keys": [], "vars": {}, "first_boot": false,
        "device_token": null,
    }));
    match cache.render_one(
        key,
        text,
        provedge::render::Syntax::Text(provedge::render::TextFlavor::Plain),
        ctx,
    ) {
        Err(e) if e.message.starts_with("syntax error") => Err(e),
        _ => Ok(()),
    }
}

/// Grandstream: FusionPBX writes the `gs_provision` XML itself; provedge makes it from P-value
/// text. Each `<Pnnn>value</Pnnn>` line becomes `Pnnn = value` (entities decoded), the XML
/// envelope and `<mac>` go (provedge writes them), one-line comments become `#` comments,
/// lines of only Smarty tags stay; anything else is refused. Line numbers are kept.
pub fn pvalues_from_xml(source: &str) -> (String, Vec<Refusal>) {
    let mut out = String::with_capacity(source.len());
    let mut refusals = Vec::new();
    for (i, raw) in source.split_inclusive('\n').enumerate() {
        let (line, newline) = match raw.strip_suffix('\n') {
            Some(l) => (l.strip_suffix('\r').unwrap_or(l), "\n"),
            None => (raw, ""),
        };
        let t = line.trim();
        let converted = if t.is_empty()
            || t.starts_with("<?xml")
            || t.starts_with("<gs_provision")
            || t == "</gs_provision>"
            || t.starts_with("<config")
            || t == "</config>"
            || (t.starts_with("<mac>") && t.ends_with("</mac>"))
        {
            Some(String::new())
        } else if let Some(c) = t.strip_prefix("<!--").and_then(|c| c.strip_suffix("-->")) {
            Some(format!("# {}", c.trim()))
        } else if let Some(p) = pvalue_line(t) {
            Some(p)
        } else if only_smarty_tags(t) {
            Some(t.to_owned())
        } else {
            None
        };
        match converted {
            Some(c) => out.push_str(&c),
            None => {
                refusals.push(Refusal {
                    line: i + 1,
                    construct: t.chars().take(60).collect(),
                    reason: "not a `<Pnnn>value</Pnnn>` line (provedge serves Grandstream \
                             P-values; `<item name=…>` settings have no P-value form)"
                        .into(),
                });
                out.push_str(line);
            }
        }
        out.push_str(newline);
    }
    (out, refusals)
}

fn pvalue_line(t: &str) -> Option<String> {
    let rest = t.strip_prefix("<P")?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let number = &rest[..digits];
    let value = rest[digits..]
        .strip_prefix('>')?
        .strip_suffix('>')?
        .strip_suffix(number)?
        .strip_suffix("</P")?;
    if digits == 0 || value.contains('<') {
        return None;
    }
    let value = value
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&");
    // In the XML, `</Pnnn>` followed a closing `{/if}`; without it the `{/if}` would swallow
    // the line's newline. `{""}` prints nothing and keeps it.
    let keep_newline = if value.ends_with('}') { "{\"\"}" } else { "" };
    Some(format!("P{number} = {value}{keep_newline}"))
}

fn only_smarty_tags(t: &str) -> bool {
    let mut rest = t;
    while let Some(open) = rest.strip_prefix('{') {
        match open.find('}') {
            Some(close) => rest = open[close + 1..].trim_start(),
            None => return false,
        }
    }
    rest.is_empty() && !t.is_empty()
}

fn skip(dir: &Path, file: &Path, why: &str) -> FileOutcome {
    FileOutcome {
        file: relative(dir, file),
        result: Outcome::Skipped(why.into()),
    }
}

fn sorted(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    Ok(entries)
}

/// Every file below `dir`, in path order.
fn walk(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in sorted(dir)? {
        if entry.is_dir() {
            files.extend(walk(&entry)?);
        } else {
            files.push(entry);
        }
    }
    Ok(files)
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn relative(dir: &Path, file: &Path) -> String {
    file.strip_prefix(dir)
        .unwrap_or(file)
        .to_string_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grandstream_xml_becomes_pvalue_text_line_for_line() {
        let (text, refusals) = pvalues_from_xml(
            "<?xml version=\"1.0\"?>\n<gs_provision version=\"1\">\n<config version=\"1\">\n\
             <!-- Account 1 -->\n<P270>{$account.1.display_name}</P270>\n{if isset($x)}\n\
             <P47>a &amp; b</P47>\n{/if}\n<item name=\"x\">1</item>\n</config>\n</gs_provision>\n",
        );
        assert_eq!(
            text,
            "\n\n\n# Account 1\nP270 = {$account.1.display_name}{\"\"}\n{if isset($x)}\nP47 = a & b\n{/if}\n<item name=\"x\">1</item>\n\n\n"
        );
        assert_eq!(refusals.len(), 1);
        assert_eq!(refusals[0].line, 9);
    }
}
