//! The `origin-verify-load` binary: exit codes, refusals, files written.

mod common;

use std::path::PathBuf;
use std::process::Output;

use common::{Origin, ProxyTrap, SECRET};

async fn load(args: &[&str]) -> Output {
    load_with_env(args, &[], &[]).await
}

/// Runs the tool with `set` added to its environment and `unset` removed from it (the test process's own
/// environment is left alone: other tests run beside this one).
async fn load_with_env(args: &[&str], set: &[(&str, &str)], unset: &[&str]) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_origin-verify-load"));
    command.args(args);
    for (name, value) in set {
        command.env(name, value);
    }
    for name in unset {
        command.env_remove(name);
    }
    command.output().await.expect("run origin-verify-load")
}

fn scratch_dir(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("origin-verify-load-cli-{name}-{}", std::process::id()))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_run_with_a_rotation_exits_0_and_writes_the_reports() {
    let origin = Origin::start().await;
    let out = scratch_dir("clean");
    let (through, direct) = (format!("edge={}", origin.url("/ok")), origin.url("/refused"));
    let output = load(&[
        "--through",
        &through,
        "--direct",
        &direct,
        "--duration",
        "1s",
        "--rate",
        "20",
        "--rotate-at",
        "300ms",
        "--rotate-command",
        "echo rotated",
        "--out",
        out.to_str().unwrap(),
    ])
    .await;
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&output.stderr)
    );
    assert!(
        stdout.contains("edge") && stdout.contains("direct-1") && stdout.contains("PASS"),
        "{stdout}"
    );
    assert!(
        stdout.contains("rotation 1 started") && stdout.contains("rotation 1 done (exit 0"),
        "{stdout}"
    );
    for file in ["report.json", "report.html", "rotation-1.log"] {
        assert!(out.join(file).is_file(), "{file} written");
    }
    assert_eq!(
        std::fs::read_to_string(out.join("rotation-1.log")).unwrap(),
        "rotated\n"
    );
    let _ = std::fs::remove_dir_all(&out);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn violations_exit_1_with_the_summary() {
    let origin = Origin::start().await;
    let out = scratch_dir("violations");
    let target = format!("api={},expect=refused", origin.url("/ok"));
    let output = load(&[
        "--target",
        &target,
        "--duration",
        "500ms",
        "--rate",
        "20",
        "--out",
        out.to_str().unwrap(),
    ])
    .await;
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{stdout}\n{}",
        text(&output.stderr)
    );
    assert!(stdout.contains("FAIL") && stdout.contains("api"), "{stdout}");
    let _ = std::fs::remove_dir_all(&out);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_rotation_exits_1_even_without_violations() {
    let origin = Origin::start().await;
    let out = scratch_dir("failed-rotation");
    let output = load(&[
        "--through",
        &origin.url("/ok"),
        "--duration",
        "500ms",
        "--rate",
        "20",
        "--rotate-at",
        "100ms",
        "--rotate-command",
        "exit 3",
        "--out",
        out.to_str().unwrap(),
    ])
    .await;
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{stdout}\n{}",
        text(&output.stderr)
    );
    assert!(stdout.contains("FAIL: rotation 1 failed (exit 3"), "{stdout}");
    let _ = std::fs::remove_dir_all(&out);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_targets_and_bad_usage_exit_2() {
    let out = scratch_dir("refused");
    let output = load(&["--through", "http://10.0.0.1/", "--out", out.to_str().unwrap()]).await;
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("not on a loopback address") && stderr.contains("--remote"),
        "{stderr}"
    );
    assert!(!out.exists(), "nothing written");

    for args in [
        &["--through", "http://127.0.0.1:9/", "--rotate-at", "1s"][..],
        &[
            "--through",
            "http://127.0.0.1:9/",
            "--rotate-at",
            "1s",
            "--rotate-secret",
            "s",
        ],
        &[
            "--through",
            "http://127.0.0.1:9/",
            "--rotate-at",
            "40s",
            "--rotate-command",
            "true",
        ],
        &["--through", "http://127.0.0.1:9/", "--duration", "soon"],
        &["--through", "http://127.0.0.1:9/", "--header-env", "no-equals"],
        &[
            "--through",
            "http://127.0.0.1:9/",
            "--header-file",
            "x-origin-verify=",
        ],
        &[],
    ] {
        let output = load(args).await;
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&output.stderr)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_header_value_on_the_command_line_is_refused_naming_the_alternatives() {
    let origin = Origin::start().await;
    let out = scratch_dir("argv-header");
    let header = format!("x-origin-verify:{SECRET}");
    let output = load(&[
        "--through",
        &origin.url("/guarded"),
        "--header",
        &header,
        "--duration",
        "300ms",
        "--out",
        out.to_str().unwrap(),
    ])
    .await;
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("--header-file") && stderr.contains("--header-env"),
        "the refusal names the alternatives: {stderr}"
    );
    assert!(
        !stdout.contains(SECRET) && !stderr.contains(SECRET),
        "the refusal does not repeat the value"
    );
    assert_eq!(origin.hits(), 0, "nothing was sent");
    assert!(!out.exists(), "nothing written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_values_from_a_file_and_from_the_environment_are_sent() {
    const VARIABLE: &str = "ORIGIN_VERIFY_LOAD_TEST_HEADER_VALUE";
    let origin = Origin::start().await;
    let dir = scratch_dir("header-sources");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("header-value");
    // As `echo VALUE > FILE` writes it: the line break is not part of the value.
    std::fs::write(&file, format!("{SECRET}\n")).unwrap();
    let from_file = format!("x-origin-verify={}", file.display());
    let from_env = format!("x-origin-verify={VARIABLE}");
    for (flag, spec, name) in [
        ("--header-file", from_file.as_str(), "file"),
        ("--header-env", from_env.as_str(), "env"),
    ] {
        let out = dir.join(name);
        let before = origin.hits();
        let output = load_with_env(
            &[
                "--through",
                &origin.url("/guarded"),
                flag,
                spec,
                "--duration",
                "500ms",
                "--rate",
                "20",
                "--out",
                out.to_str().unwrap(),
            ],
            &[(VARIABLE, SECRET)],
            &[],
        )
        .await;
        let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
        // /guarded answers 200 only with the right value: exit 0 means every request carried it.
        assert_eq!(output.status.code(), Some(0), "{flag}: {stdout}\n{stderr}");
        assert!(origin.hits() > before, "{flag}: requests were sent");
        let report = std::fs::read_to_string(out.join("report.json")).unwrap();
        assert!(
            !report.contains(SECRET),
            "{flag}: the value stays out of the report"
        );
    }

    // A source that does not give a value stops the run before anything is sent, naming the source.
    let missing = dir.join("no-such-file");
    let missing_file = format!("x-origin-verify={}", missing.display());
    let unset_variable = "x-origin-verify=ORIGIN_VERIFY_LOAD_TEST_UNSET";
    for (flag, spec, named) in [
        (
            "--header-file",
            missing_file.as_str(),
            missing.display().to_string(),
        ),
        (
            "--header-env",
            unset_variable,
            "ORIGIN_VERIFY_LOAD_TEST_UNSET".to_owned(),
        ),
    ] {
        let before = origin.hits();
        let output = load_with_env(
            &[
                "--through",
                &origin.url("/guarded"),
                flag,
                spec,
                "--duration",
                "300ms",
            ],
            &[],
            &["ORIGIN_VERIFY_LOAD_TEST_UNSET"],
        )
        .await;
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{flag}: {stderr}");
        assert!(
            stderr.contains(&named),
            "{flag}: the error names {named}: {stderr}"
        );
        assert_eq!(origin.hits(), before, "{flag}: nothing was sent");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_variables_are_ignored_in_local_and_remote_mode() {
    let origin = Origin::start().await;
    let trap = ProxyTrap::start().await;
    let proxy = trap.url();
    let set: Vec<(&str, &str)> = [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ]
    .into_iter()
    .map(|name| (name, proxy.as_str()))
    .collect();
    // Nothing may exempt loopback from the proxy but the tool itself (REQUEST_METHOD: reqwest ignores
    // HTTP_PROXY in a CGI environment).
    let unset = ["NO_PROXY", "no_proxy", "REQUEST_METHOD"];
    let url = origin.url("/ok");
    for mode in [&[][..], &["--remote"][..]] {
        let out = scratch_dir(&format!("proxy{}", mode.len()));
        let before = origin.hits();
        let mut args = vec![
            "--through",
            &url,
            "--duration",
            "500ms",
            "--rate",
            "20",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(mode);
        let output = load_with_env(&args, &set, &unset).await;
        let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
        assert_eq!(
            trap.connections(),
            0,
            "{mode:?}: the proxy was contacted\n{stdout}\n{stderr}"
        );
        assert_eq!(output.status.code(), Some(0), "{mode:?}: {stdout}\n{stderr}");
        assert!(
            origin.hits() > before,
            "{mode:?}: requests went straight to the origin"
        );
        let _ = std::fs::remove_dir_all(&out);
    }
}
