//! `origin-verify-load`: the command-line face of the load-test library.

#![deny(missing_docs)]
#![warn(clippy::all, rust_2018_idioms)]
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};
use origin_verify_loadtest::{
    run, run_rotations, secrets_manager_client, Expect, Mode, Plan, RotationAction, RotationSchedule, Target,
    Timeline, ValueSource,
};

/// Drive URLs at a fixed rate, check what each must answer, mark rotations, write a report.
#[derive(Debug, Parser)]
#[command(
    name = "origin-verify-load",
    version,
    after_help = "\
Durations: 30s, 2m, 1m30s, 500ms (a bare number is seconds).

Examples:
  origin-verify-load --through http://127.0.0.1:8080/hello --direct http://127.0.0.1:9090/hello \\
      --duration 30s --rotate-at 10s --rotate-command './rotate.sh'
  origin-verify-load --remote --through https://d111.cloudfront.net/hello \\
      --direct https://abc.execute-api.eu-west-1.amazonaws.com/hello --rotate-at 60s --rotate-secret my-secret \\
      --duration 5m --rate 20
  HEADER_VALUE=... origin-verify-load --target wrong=http://127.0.0.1:9090/hello,expect=refused \\
      --header-env x-origin-verify=HEADER_VALUE

Header values come from a file (--header-file) or the environment (--header-env), never the command line,
which every user of the machine can read. Proxy variables (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY) are ignored:
requests go straight to the targets, in local and remote mode.

Exit status: 0 no violations; 1 violations (or a rotation that failed); 2 usage or configuration error."
)]
struct Args {
    /// URL reached through CloudFront: every response must be 2xx. Named through-N unless given as NAME=URL.
    #[arg(long, value_name = "[NAME=]URL")]
    through: Vec<String>,

    /// URL of the API itself: every response must be 401 or 403. Named direct-N unless given as NAME=URL.
    #[arg(long, value_name = "[NAME=]URL")]
    direct: Vec<String>,

    /// Any target, with its expectation (default 2xx).
    #[arg(long, value_name = "NAME=URL[,expect=2xx|refused|any]")]
    target: Vec<String>,

    /// Header added to every request, its value read from FILE (trailing line breaks dropped). The value
    /// is never written to the report.
    #[arg(long, value_name = "NAME=FILE")]
    header_file: Vec<String>,

    /// Header added to every request, its value read from the environment variable VARIABLE. The value
    /// is never written to the report.
    #[arg(long, value_name = "NAME=VARIABLE")]
    header_env: Vec<String>,

    /// Refused (kept only to say so): a value on the command line is visible to every user of the
    /// machine. Use --header-file or --header-env.
    #[arg(long, value_name = "NAME:VALUE", hide = true)]
    header: Vec<String>,

    /// Requests started per second, per target, whatever the responses do.
    #[arg(long, value_name = "N", default_value_t = 50)]
    rate: u32,

    /// How long to start requests for.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    duration: Duration,

    /// Requests in flight at once, per target; requests due beyond it wait, and the wait counts as latency.
    #[arg(long, value_name = "N", default_value_t = 64)]
    max_in_flight: usize,

    /// Bound on each request (connect and body included).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    timeout: Duration,

    /// Directory for report.json, report.html and rotation logs (created if missing).
    #[arg(long, value_name = "DIR", default_value = "load-report")]
    out: PathBuf,

    /// Allow targets that are not on a loopback address (by default they are refused).
    #[arg(long)]
    remote: bool,

    /// When to rotate, from the start of the run (repeatable). Needs --rotate-command or --rotate-secret.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    rotate_at: Vec<Duration>,

    /// Rotate by running this with `sh -c`; its output goes to DIR/rotation-N.log.
    #[arg(long, value_name = "COMMAND", conflicts_with = "rotate_secret")]
    rotate_command: Option<String>,

    /// Rotate by calling Secrets Manager RotateSecret on this secret (name or ARN); needs --remote.
    #[arg(long, value_name = "SECRET_ID")]
    rotate_secret: Option<String>,
}

/// Why the tool stopped before reaching a verdict.
enum Failure {
    /// The command line does not make sense: reported the clap way.
    Usage(String, ErrorKind),
    /// The command line makes sense but cannot be carried out (non-loopback target, unwritable dir, ...).
    Config(String),
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match go(args).await {
        Ok(code) => code,
        Err(Failure::Usage(message, kind)) => Args::command().error(kind, message).exit(),
        Err(Failure::Config(message)) => {
            eprintln!("origin-verify-load: {message}");
            ExitCode::from(2)
        }
    }
}

async fn go(args: Args) -> Result<ExitCode, Failure> {
    let plan = plan(&args)?;
    plan.validate().map_err(|e| Failure::Config(e.to_string()))?;
    let rotation = rotation_action(&args, &plan).await?;
    std::fs::create_dir_all(&args.out)
        .map_err(|e| Failure::Config(format!("cannot create {}: {e}", args.out.display())))?;

    let timeline = Timeline::new();
    let rotations = rotation.map(|action| {
        let schedule = RotationSchedule {
            at: args.rotate_at.clone(),
            action,
            until: plan.duration,
        };
        tokio::spawn(run_rotations(schedule, timeline.clone()))
    });

    let mut report = run(&plan, timeline.clone())
        .await
        .map_err(|e| Failure::Config(e.to_string()))?;

    let mut rotation_problems = Vec::new();
    if let Some(rotations) = rotations {
        if !rotations.is_finished() {
            eprintln!(
                "origin-verify-load: the load has stopped; waiting for the rotation in progress to end"
            );
        }
        match rotations.await {
            Ok(outcomes) => {
                rotation_problems.extend(outcomes.into_iter().filter(|o| !o.ok).map(|o| o.detail))
            }
            Err(e) => rotation_problems.push(format!("the rotation task failed: {e}")),
        }
        // Marks made while the rotation finished after the load stopped.
        report.markers = timeline.markers();
    }

    let json = args.out.join("report.json");
    let html = args.out.join("report.html");
    report.write_json(&json).map_err(|e| write_failure(&json, e))?;
    report.write_html(&html).map_err(|e| write_failure(&html, e))?;

    print!("{}", report.summary());
    for problem in &rotation_problems {
        // The responses may all have been right, but the rotation the run was meant to exercise was not.
        println!("FAIL: {problem}");
    }
    eprintln!("report: {}  ({})", html.display(), json.display());
    let failed = report.violations() > 0 || !rotation_problems.is_empty();
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn write_failure(path: &Path, e: std::io::Error) -> Failure {
    Failure::Config(format!("cannot write {}: {e}", path.display()))
}

fn plan(args: &Args) -> Result<Plan, Failure> {
    let mut targets = Vec::new();
    for (i, spec) in args.through.iter().enumerate() {
        let (name, url) = named_url(spec, || format!("through-{}", i + 1));
        targets.push(Target::new(name, url, Expect::Success));
    }
    for (i, spec) in args.direct.iter().enumerate() {
        let (name, url) = named_url(spec, || format!("direct-{}", i + 1));
        targets.push(Target::new(name, url, Expect::Refused));
    }
    for spec in &args.target {
        targets.push(target_spec(spec).map_err(|m| Failure::Usage(m, ErrorKind::InvalidValue))?);
    }
    if targets.is_empty() {
        return Err(Failure::Usage(
            "give at least one target: --through, --direct or --target".into(),
            ErrorKind::MissingRequiredArgument,
        ));
    }
    let headers = headers(args)?;
    for target in &mut targets {
        target.headers.extend(headers.iter().cloned());
    }
    Ok(Plan {
        targets,
        duration: args.duration,
        rate_per_target: args.rate,
        max_in_flight: args.max_in_flight,
        mode: if args.remote { Mode::Remote } else { Mode::Local },
        request_timeout: args.timeout,
    })
}

/// The extra headers, their values read from files and environment variables.
fn headers(args: &Args) -> Result<Vec<(String, String)>, Failure> {
    if !args.header.is_empty() {
        // Too late for this run's argv, which is on show while the process lives; refusing at least makes
        // the caller move the value before the next. What was given is not repeated: it may be the secret.
        return Err(Failure::Usage(
            "--header no longer takes a value: a command line is visible to every user of the machine \
             (ps, /proc/PID/cmdline). Put the value in a file and pass --header-file NAME=FILE, or in an \
             environment variable and pass --header-env NAME=VARIABLE"
                .into(),
            ErrorKind::ArgumentConflict,
        ));
    }
    let files = args
        .header_file
        .iter()
        .map(|spec| ("--header-file", "NAME=FILE", spec));
    let envs = args
        .header_env
        .iter()
        .map(|spec| ("--header-env", "NAME=VARIABLE", spec));
    let mut headers = Vec::new();
    for (flag, form, spec) in files.chain(envs) {
        let (name, place) = spec
            .split_once('=')
            .filter(|(name, place)| !name.trim().is_empty() && !place.is_empty())
            .ok_or_else(|| {
                Failure::Usage(
                    format!("{flag} wants {form}, got {spec:?}"),
                    ErrorKind::InvalidValue,
                )
            })?;
        let name = name.trim();
        let source = if flag == "--header-file" {
            ValueSource::File(PathBuf::from(place))
        } else {
            ValueSource::Env(place.to_owned())
        };
        let value = source.read(name).map_err(|e| Failure::Config(e.to_string()))?;
        headers.push((name.to_owned(), value));
    }
    Ok(headers)
}

async fn rotation_action(args: &Args, plan: &Plan) -> Result<Option<RotationAction>, Failure> {
    let usage = |m: &str| Failure::Usage(m.into(), ErrorKind::ArgumentConflict);
    let how = args.rotate_command.is_some() || args.rotate_secret.is_some();
    match (args.rotate_at.is_empty(), how) {
        (true, false) => return Ok(None),
        (true, true) => {
            return Err(usage(
                "--rotate-command/--rotate-secret need --rotate-at to say when",
            ))
        }
        (false, false) => {
            return Err(usage(
                "--rotate-at needs --rotate-command or --rotate-secret to say how",
            ))
        }
        (false, true) => {}
    }
    if let Some(late) = args.rotate_at.iter().find(|at| **at >= plan.duration) {
        return Err(Failure::Usage(
            format!(
                "--rotate-at {late:?} is not before the end of the run (--duration {:?})",
                plan.duration
            ),
            ErrorKind::InvalidValue,
        ));
    }
    if let Some(command) = &args.rotate_command {
        return Ok(Some(RotationAction::Command {
            command: command.clone(),
            log_dir: args.out.clone(),
        }));
    }
    let secret_id = args.rotate_secret.clone().unwrap_or_default();
    if !args.remote {
        return Err(usage(
            "--rotate-secret calls AWS Secrets Manager; pass --remote as well",
        ));
    }
    Ok(Some(RotationAction::Secret {
        client: secrets_manager_client().await,
        secret_id,
    }))
}

/// `NAME=URL` or a bare `URL`. A URL's own `=` (in its query) comes after `://`, so the part before
/// the first `=` is a name only if it has no `:` or `/`.
fn named_url(spec: &str, default_name: impl FnOnce() -> String) -> (String, String) {
    match spec.split_once('=') {
        Some((name, url)) if !name.is_empty() && !name.contains([':', '/']) => {
            (name.to_string(), url.to_string())
        }
        _ => (default_name(), spec.to_string()),
    }
}

/// `NAME=URL[,expect=2xx|refused|any]`.
fn target_spec(spec: &str) -> Result<Target, String> {
    let (rest, expect) = match spec.rsplit_once(",expect=") {
        Some((rest, expect)) => (rest, expect.parse::<Expect>()?),
        None => (spec, Expect::Success),
    };
    match rest.split_once('=') {
        Some((name, url)) if !name.is_empty() && !name.contains([':', '/']) && !url.is_empty() => {
            Ok(Target::new(name, url, expect))
        }
        _ => Err(format!(
            "--target wants NAME=URL[,expect=2xx|refused|any], got {spec:?}"
        )),
    }
}

/// `30s`, `2m`, `1m30s`, `500ms`, `1.5s`, `1h`; a bare number is seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let bad = || format!("{text:?} is not a duration (try 30s, 2m, 1m30s or 500ms)");
    if text.is_empty() {
        return Err(bad());
    }
    if let Ok(secs) = text.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).map_err(|_| bad());
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        if digits == 0 {
            return Err(bad());
        }
        let number: f64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total += Duration::try_from_secs_f64(number * scale).map_err(|_| bad())?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        for bad in ["", "s", "10x", "-1s", "1s2"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_and_urls() {
        assert_eq!(
            named_url("http://127.0.0.1/?a=b", || "d".into()),
            ("d".into(), "http://127.0.0.1/?a=b".into())
        );
        assert_eq!(
            named_url("edge=http://127.0.0.1/", || "d".into()),
            ("edge".into(), "http://127.0.0.1/".into())
        );
        let t = target_spec("api=http://127.0.0.1:9/x?q=1,expect=refused").unwrap();
        assert_eq!(
            (t.name.as_str(), t.url.as_str(), t.expect),
            ("api", "http://127.0.0.1:9/x?q=1", Expect::Refused)
        );
        assert_eq!(
            target_spec("a=http://127.0.0.1/").unwrap().expect,
            Expect::Success
        );
        assert!(target_spec("http://127.0.0.1/").is_err());
        assert!(target_spec("a=http://127.0.0.1/,expect=maybe").is_err());
    }

    #[test]
    fn cli_definition_is_consistent() {
        Args::command().debug_assert();
    }
}
