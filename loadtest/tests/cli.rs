//! The `origin-verify-load` binary: exit codes, refusals, files written.

mod common;

use std::path::PathBuf;
use std::process::Output;

use common::Origin;

async fn load(args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_origin-verify-load"))
        .args(args)
        .output()
        .await
        .expect("run origin-verify-load")
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
        &["--through", "http://127.0.0.1:9/", "--header", "no-colon"],
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
