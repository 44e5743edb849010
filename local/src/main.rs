//! `origin-verify-local`: the whole system on emulated AWS, the seed's checks, and rotations under load.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use origin_verify_local::stack::{
    LocalStack, Scenario, StackOptions, PYTHON_ROUTE, PYTHON_THROUGH_EDGE, THROUGH_EDGE,
};

/// Runs the system locally: moto, the real authorizer and rotator under cargo-lambda, an edge standing in
/// for CloudFront and a gateway standing in for API Gateway, whose second route (/python/) is protected by
/// the blog's authorizer design in Python reading the secret from origin-verify-layer; shows the seed's
/// checks on both routes, rotates the secret under load, and prints a summary (reports go to --out).
#[derive(Debug, Parser)]
#[command(name = "origin-verify-local", version)]
struct Args {
    /// How long the load runs, in seconds.
    #[arg(long, default_value_t = 60)]
    duration: u64,
    /// Requests per second per target (through the edge, direct without header, direct wrong value; on
    /// each route).
    #[arg(long, default_value_t = 20)]
    rate: u32,
    /// Rotations during the load.
    #[arg(long, default_value_t = 3)]
    rotations: usize,
    /// The authorizer's refresh interval, in seconds (the rotator waits this plus 2 s).
    #[arg(long, default_value_t = 5)]
    refresh_seconds: u64,
    /// How long both routes' authorizers accept AWSPREVIOUS after it stopped being current, in seconds
    /// (ORIGIN_VERIFY_PREVIOUS_GRACE_SECONDS; 0: off).
    #[arg(long, default_value_t = 300)]
    previous_grace_seconds: u64,
    /// Propagation delays of the simulated edge locations, in seconds, comma-separated.
    #[arg(long, default_value = "2,3,4", value_delimiter = ',')]
    edge_delays: Vec<u64>,
    /// The gateway's authorizer cache TTL in seconds (0: off).
    #[arg(long, default_value_t = 5)]
    authorizer_cache_ttl: u64,
    /// Where logs and reports go.
    #[arg(long, default_value = "target/local-stack")]
    out: PathBuf,
    /// Log level of the authorizer and the rotator (AWS_LAMBDA_LOG_LEVEL); the backend runs at trace.
    #[arg(long, default_value = "info")]
    log_level: String,
    /// The functions' metrics interval (ORIGIN_VERIFY_METRICS_SECONDS; 0: off). The run ends by waiting
    /// this long and invoking the authorizer once more, so that its last line carries every count.
    #[arg(long, default_value_t = 5)]
    metrics_seconds: u64,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    tokio::select! {
        code = run(args) => code,
        _ = tokio::signal::ctrl_c() => {
            // Returning drops the stack, which stops every process it started.
            eprintln!("interrupted: stopping everything");
            ExitCode::from(130)
        }
    }
}

async fn run(args: Args) -> ExitCode {
    let options = StackOptions {
        refresh_seconds: args.refresh_seconds.max(1),
        previous_grace_seconds: args.previous_grace_seconds,
        propagation_margin_seconds: 2,
        edge_delays: args.edge_delays.iter().map(|s| Duration::from_secs(*s)).collect(),
        authorizer_cache_ttl: Duration::from_secs(args.authorizer_cache_ttl),
        out_dir: args.out.clone(),
        log_level: args.log_level.clone(),
        metrics_seconds: args.metrics_seconds,
    };
    eprintln!("starting: moto, authorizer, rotator and backend under cargo lambda, the Python authorizer with origin-verify-layer, gateway, edge ...");
    let stack = match LocalStack::start(options).await {
        Ok(stack) => stack,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(2);
        }
    };
    println!("edge (CloudFront stand-in):   {}", stack.edge.url);
    println!("gateway (HTTP API stand-in):  {}", stack.gateway.url);
    println!(
        "route {PYTHON_ROUTE}: the Python authorizer (examples/python-authorizer) with origin-verify-layer"
    );
    println!(
        "secret: {}   distribution: {}\n",
        stack.secret, stack.distribution
    );
    let scenario = Scenario {
        duration: Duration::from_secs(args.duration),
        rate: args.rate,
        rotations: args.rotations,
    };
    let outcome = match stack.run(&scenario).await {
        Ok(outcome) => outcome,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(2);
        }
    };
    println!("\n{}", outcome.summary());
    println!(
        "reports: {}/report.html (load and function metrics), report.json, outcome.json; logs: authorizer.log, rotator.log, backend.log, python-authorizer.log, layer.log",
        stack.out_dir().display()
    );
    let loaded = [THROUGH_EDGE, PYTHON_THROUGH_EDGE]
        .iter()
        .all(|name| outcome.report.target(name).is_some_and(|t| t.total > 0));
    let ok = outcome.seed.as_expected()
        && outcome.python_seed.as_expected()
        && outcome.python_processes.running()
        && loaded
        && outcome.violations() == 0
        && outcome.edge_sends_current
        && outcome.rotations.iter().all(|(_, r)| r.ok)
        && outcome.sm_calls.values().all(|n| *n <= outcome.sm_call_bound)
        && outcome.metrics.invalid.is_empty()
        && outcome.gateway.backend_errors == 0
        && outcome.secret_scan.clean();
    if ok {
        println!("result: on both routes every request through the edge admitted and every direct request refused, rotations complete, no value of the secret in any log or report");
        ExitCode::SUCCESS
    } else {
        println!("result: FAILED (see above)");
        ExitCode::FAILURE
    }
}
