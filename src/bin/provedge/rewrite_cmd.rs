//! `provedge rewrite --rules FILE [--host H] [--https] PATH`
//!
//! Applies an nginx rewrite rule file to one request target, as nginx would:
//!
//! * passed on (rewritten or not): prints the target nginx's `proxy_pass` would send upstream
//!   (path and query) and exits 0;
//! * redirect: prints `302 LOCATION` or `301 LOCATION` and exits 0; a `return` prints its
//!   status and its Location or body text;
//! * refused: prints the status nginx answers with (`500` for a rewrite cycle, `400` for a
//!   malformed target) and exits 0;
//! * a rule file that does not load: prints `FILE:LINE reason` on stderr and exits 2.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use provedge::rewrite::{Outcome, RewriteInput, RuleSet};

#[derive(clap::Args)]
pub struct Args {
    /// An nginx rule file: `rewrite` lines, optionally inside `location` blocks.
    #[arg(long)]
    rules: PathBuf,
    /// Host header of the request (`$host`).
    #[arg(long, default_value = "localhost")]
    host: String,
    /// The request came over TLS (`$scheme` is `https`).
    #[arg(long)]
    https: bool,
    /// Request target: path and optional query, as the client sends it.
    path: String,
}

/// Loads a rule file, or reports `FILE:LINE reason` and the exit code 2.
pub fn load(file: &Path) -> Result<RuleSet, ExitCode> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        eprintln!("{}: {e}", file.display());
        ExitCode::from(2)
    })?;
    RuleSet::parse(&text).map_err(|e| {
        eprintln!("{}:{} {}", file.display(), e.line, e.reason);
        ExitCode::from(2)
    })
}

pub fn run(args: Args) -> ExitCode {
    let rules = match load(&args.rules) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let input = RewriteInput::new(&args.path)
        .with_host(&args.host)
        .with_https(args.https);
    let mut line = match rules.apply(&input) {
        Outcome::Internal(pass) => pass.upstream_target(),
        Outcome::Redirect(r) => {
            let mut l = format!("{} ", r.status.code()).into_bytes();
            l.extend_from_slice(&r.location);
            l
        }
        // `return`: the status, then its Location or body text, if any.
        Outcome::Return(r) => {
            let mut l = r.status.to_string().into_bytes();
            if let Some(text) = r.location.as_ref().or(r.body.as_ref()) {
                l.push(b' ');
                l.extend_from_slice(text);
            }
            l
        }
        other => other.status().unwrap_or(500).to_string().into_bytes(),
    };
    line.push(b'\n');
    match std::io::stdout().lock().write_all(&line) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stdout: {e}");
            ExitCode::FAILURE
        }
    }
}
