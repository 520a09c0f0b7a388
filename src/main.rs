//! The `ward` binary: the composition root that wires ward's stages together.
//!
//! Commands:
//! - `ward normalize`: reads sensor files and prints normalized events as JSON lines.
//! - `ward run`: consumes Kafka into the Parquet lake, each record exactly once.
//! - `ward query`: answers SQL over the lake.
//! - `ward publish`: sends the records of sensor files to a Kafka topic.
//! - `ward replay`: runs detection and correlation over sensor files into the lake.
//! - `ward rules`: lists the detection rules and runs their fixtures.
//! - `ward generate`: writes a generated hospital's telemetry, with or without an attack.
//! - `ward demo`: generates an attack, runs it through the pipeline, shows the incident.
//! - `ward report`: investigation reports (patient access, user activity, incident).
//! - `ward verify`: checks every lake file and the manifest's hash chain for tampering.
//! - `ward retention`: deletes what outlived the retention policy; places legal holds.
//! - `ward serve`: the lake over HTTP to API token holders; `ward token` makes tokens.
//!
//! This is the only crate that uses `anyhow`; the libraries return typed errors and the
//! binary turns them into messages for the operator.

mod access;
mod analysis;
mod demo;
mod generate;
mod normalize;
mod publish;
mod query;
mod replay;
mod report;
mod retention;
mod rules;
mod run;
mod serve;
mod verify;

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
    Run(run::RunArgs),
    Query(query::QueryArgs),
    Publish(publish::PublishArgs),
    Replay(replay::ReplayArgs),
    Rules(rules::RulesArgs),
    Generate(generate::GenerateArgs),
    Demo(demo::DemoArgs),
    Report(report::ReportArgs),
    Verify(verify::VerifyArgs),
    Retention(retention::RetentionArgs),
    Serve(serve::ServeArgs),
    Token(serve::TokenArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The service logs its lifecycle by default; the one-shot tools only what went wrong.
    install_tracing(match cli.command {
        Command::Run(_) | Command::Serve(_) => "info",
        _ => "warn",
    });
    // `ward verify` says with its exit code whether the lake is intact; every other
    // command succeeds or fails.
    let result = match cli.command {
        Command::Verify(args) => verify::run(args),
        command => run_command(command).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("ward: error: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs a command that reports only success or failure.
fn run_command(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Normalize(args) => normalize::run(args),
        Command::Run(args) => run::run(args),
        Command::Query(args) => query::run(args),
        Command::Publish(args) => publish::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Rules(args) => rules::run(args),
        Command::Generate(args) => generate::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Report(args) => report::run(args),
        Command::Retention(args) => retention::run(args),
        Command::Serve(args) => serve::serve(args),
        Command::Token(args) => serve::token(args),
        Command::Verify(args) => verify::run(args).map(|_| ()),
    }
}

/// Logs go to stderr, filtered by `WARD_LOG` (for example `WARD_LOG=debug`), else at the
/// command's default level.
fn install_tracing(default: &str) {
    let filter = EnvFilter::try_from_env("WARD_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
