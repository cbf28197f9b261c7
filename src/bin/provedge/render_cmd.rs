//! `provedge render [--store DIR] [--method M] [--user-agent UA] [--config FILE] PATH`
//!
//! Writes exactly the bytes that would be served to stdout and exits 0; otherwise exits 1 with
//! `STATUS reason` on stderr (the reason for a 5xx is the log note naming the key and fault).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use provedge::{Decision, Engine, Method, Request};

use crate::folder_store::FolderStore;

#[derive(clap::Args)]
pub struct Args {
    /// The store folder (default: examples/store).
    #[arg(long)]
    store: Option<PathBuf>,
    /// HTTP method of the request.
    #[arg(long, default_value = "GET")]
    method: String,
    /// User-Agent header of the request.
    #[arg(long)]
    user_agent: Option<String>,
    /// A JSON engine configuration.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Request target: path and optional query.
    path: String,
}

pub fn run(args: Args) -> ExitCode {
    let engine = match crate::load_config(args.config.as_deref()) {
        Ok(config) => match Engine::new(config) {
            Ok(engine) => engine,
            Err(e) => {
                eprintln!("engine.{e}");
                return ExitCode::from(2);
            }
        },
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let store = FolderStore::from_arg(args.store.as_deref());
    let mut req = Request::new(Method::parse(&args.method), args.path);
    if let Some(ua) = args.user_agent {
        req = req.with_header("User-Agent", ua);
    }
    match served(engine.run(&req, crate::unix_now(), |key| store.read(key))) {
        Ok(resp) => {
            let mut out = std::io::stdout().lock();
            if out
                .write_all(&resp.body)
                .and_then(|()| out.flush())
                .is_err()
            {
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(reason) => {
            eprintln!("{reason}");
            ExitCode::FAILURE
        }
    }
}

/// What `render` makes of the engine's last decision for a request: the answer when the file
/// is served (200), or the line saying why not (`STATUS reason`, with the log note naming the
/// key and fault for a 5xx; a rewrite; an upload). `devices check` reports files alike.
pub fn served(decision: Decision) -> Result<provedge::Response, String> {
    match decision {
        Decision::Respond(resp) if resp.status == 200 => Ok(resp),
        Decision::Respond(resp) => {
            let reason = resp
                .note
                .clone()
                .unwrap_or_else(|| String::from_utf8_lossy(&resp.body).trim_end().to_owned());
            Err(format!("{} {reason}", resp.status))
        }
        Decision::Rewrite(rewrite) => Err(format!("rewrite {}", rewrite.target)),
        Decision::Upload(upload) => Err(format!(
            "upload to {} (up to {} bytes): render serves files, it does not store them",
            upload.key(),
            upload.max_bytes()
        )),
        // `Engine::run` answers reads, streams and sums itself: none is left for its caller.
        Decision::Fetch(_) | Decision::Stream(_) | Decision::Checksum(_) => {
            Err("the engine asked for more than the store gave".into())
        }
    }
}

#[derive(clap::Args)]
pub struct VarsArgs {
    /// The store folder (default: examples/store).
    #[arg(long)]
    store: Option<PathBuf>,
    /// The device's MAC.
    mac: String,
}

/// `provedge vars MAC`: the merged variables a device's templates see, as JSON.
pub fn vars(args: VarsArgs) -> ExitCode {
    let store = FolderStore::from_arg(args.store.as_deref());
    match provedge::store::merged_vars_for(&args.mac, |key| store.read(key)) {
        Ok(vars) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&vars).unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
