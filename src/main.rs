//! The `ward` binary: the composition root that wires ward's stages together.
//!
//! Commands:
//! - `ward normalize`: reads sensor files and prints normalized events as JSON lines.
//!
//! This is the only crate that uses `anyhow`; the libraries return typed errors and the
//! binary turns them into messages for the operator.

mod normalize;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// ward: security event pipeline for hospitals.
///
/// ward reads endpoint (EDR), network (NDR) and EHR audit events, normalizes them into one
/// schema, and keeps them as the audit record HIPAA 45 CFR 164.312(b) requires.
#[derive(Debug, Parser)]
#[command(name = "ward", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Normalize(normalize::NormalizeArgs),
}

fn main() -> ExitCode {
    install_tracing();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Normalize(args) => normalize::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("ward: error: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// Logs go to stderr, filtered by `WARD_LOG` (for example `WARD_LOG=debug`), warnings and
/// errors only by default.
fn install_tracing() {
    let filter = EnvFilter::try_from_env("WARD_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
