//! The `edc-sim` binary: a REDCap API server on the command line, for a
//! trainer's laptop or a manual test of the desk. `--help` tells the flags
//! and the fault spec.

use std::net::SocketAddr;
use std::process::ExitCode;

use edc_sim::cli;
use edc_sim::{Project, RunningSim, SimConfig, Simulator};

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("EDC_SIM_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    // Help and version go to stdout with success; a mistake goes to
    // stderr with status 2.
    let options = cli::parse(std::env::args_os()).unwrap_or_else(|e| e.exit());
    let project = match &options.project {
        None => Project::demo(),
        Some(files) => match Project::from_files(files) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("edc-sim: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    let project = match &options.title {
        Some(t) => project.with_title(t.clone()),
        None => project,
    };
    let project = match options.status {
        Some(s) => project.with_status(s),
        None => project,
    };
    if !project.warnings().is_empty() {
        eprintln!(
            "edc-sim: {} value(s) of the project's data would be refused by an import (served as given):",
            project.warnings().len()
        );
        for w in project.warnings().iter().take(20) {
            eprintln!("  {w}");
        }
    }
    let mut config = SimConfig::new(project);
    if !options.tokens.is_empty() {
        config.tokens = options.tokens.clone();
    }
    let seed = options.seed.unwrap_or_else(rand::random);
    config.seed = seed;
    config.faults = options.faults.clone();
    config.admin = options.admin;
    config.bind = SocketAddr::new(options.bind, options.port);
    config.database = options.database.clone();
    let sim = match Simulator::start(config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("edc-sim: {e}");
            return ExitCode::FAILURE;
        }
    };
    say(&banner(&sim, seed, options.admin));
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("edc-sim: cannot wait for Ctrl-C ({e}); stopping");
    }
    sim.shutdown().await;
    ExitCode::SUCCESS
}

/// What a person starting the simulator needs: where, with which tokens.
fn banner(sim: &RunningSim, seed: u64, admin: bool) -> String {
    let mut out = format!(
        "edc-sim: {} ({} records, {})\nAPI URL: {}\nTokens:\n",
        sim.project().title(),
        sim.project()
            .records()
            .iter()
            .map(|r| &r[0].1)
            .collect::<std::collections::HashSet<_>>()
            .len(),
        sim.project().status(),
        sim.api_url()
    );
    for u in sim.users() {
        out.push_str(&format!(
            "  {}  user {}{}{}\n",
            u.token,
            u.username,
            u.dag
                .map(|d| format!(", data access group {d}"))
                .unwrap_or_default(),
            match u.rights.to_string().as_str() {
                "" => String::new(),
                words => format!(", rights {words}"),
            }
        ));
    }
    let faults = sim.faults();
    if faults != Default::default() {
        out.push_str(&format!("Faults: {faults}\n"));
    }
    out.push_str(&format!("Fault seed: {seed}\n"));
    if admin {
        out.push_str(&format!(
            "Admin: {0}admin/stats, {0}admin/faults, {0}admin/rights, {0}admin/lock, {0}admin/ban\n",
            sim.base_url()
        ));
    }
    out.push_str("Ctrl-C stops it.");
    out
}

#[expect(clippy::print_stdout, reason = "the binary's output is its interface")]
fn say(text: &str) {
    println!("{text}");
}
