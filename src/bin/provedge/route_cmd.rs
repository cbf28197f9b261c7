//! `provedge route [--method M] [--user-agent UA] [--config FILE] PATH`
//!
//! Prints one JSON object (`vendor`, `scope`, `kind`, `mac`, `model`, `file`, `key`) and exits 0;
//! a request that is not recognised or is refused prints nothing on stdout, one line on stderr
//! and exits 1.

use std::process::ExitCode;

use provedge::{route, Method, Request};

#[derive(clap::Args)]
pub struct Args {
    /// HTTP method of the request.
    #[arg(long, default_value = "GET")]
    method: String,
    /// User-Agent header of the request.
    #[arg(long)]
    user_agent: Option<String>,
    /// The configuration file `serve` reads (`{"engine": {"route": …}, …}`); its
    /// `engine.route` part (Grandstream affixes, default vendors, extra OUIs, limits) applies.
    #[arg(long)]
    config: Option<std::path::PathBuf>,
    /// Request target: path and optional query, as the phone sends it.
    path: String,
}

pub fn run(args: Args) -> ExitCode {
    let cfg = match crate::load_config(args.config.as_deref()) {
        Ok(config) => config.route,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let mut req = Request::new(Method::parse(&args.method), args.path);
    if let Some(ua) = args.user_agent {
        req = req.with_header("User-Agent", ua);
    }
    match route::route(&req, &cfg) {
        Ok(r) => {
            if let Some(conflict) = r.mac_conflict() {
                eprintln!("note: MAC conflict: {conflict}");
            }
            match serde_json::to_string(&r) {
                Ok(json) => {
                    println!("{json}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("500 {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(e) => {
            eprintln!("{} {e}", e.status());
            ExitCode::FAILURE
        }
    }
}
