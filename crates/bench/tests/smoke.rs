//! Runs the real benchmark binary briefly and checks it reports and verifies what it claims.

use std::process::Command;

fn bench(args: &[&str]) -> (bool, String) {
    // The large-body memory phase sends 8 x 256 MiB by default: skipped unless asked for.
    let bodies: &[&str] = match args.contains(&"--body-rss-bytes") {
        true => &[],
        false => &["--body-rss-bytes", "0"],
    };
    let out = Command::new(env!("CARGO_BIN_EXE_snowstream-bench"))
        .args(bodies)
        .args([
            "--duration",
            "400ms",
            "--warmup",
            "100ms",
            "--connections",
            "4",
            "--bulk-connections",
            "1",
            "--body-size",
            "64KiB",
            "--bulk-bodies",
            "2",
            "--client-threads",
            "1",
            "--s3-tasks",
            "2",
            "--s3-uploads",
            "1",
            "--part-size",
            "64KiB",
        ])
        .args(args)
        .output()
        .expect("runs the bench binary");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stdout}\n{stderr}");
    (out.status.success(), stdout)
}

fn row<'a>(stdout: &'a str, target: &str, scenario: &str) -> Vec<&'a str> {
    stdout
        .lines()
        .find(|l| l.starts_with(target) && l.split_whitespace().nth(1) == Some(scenario))
        .unwrap_or_else(|| panic!("no {target} {scenario} row"))
        .split_whitespace()
        .collect()
}

#[test]
fn short_run_reports_both_targets_and_verifies_the_landed_count() {
    let (ok, stdout) = bench(&[]);
    assert!(ok, "bench failed");
    for (t, s) in [
        ("bare", "single"),
        ("snowstream", "single"),
        ("bare", "bulk"),
        ("snowstream", "bulk"),
        ("bare", "s3-small"),
        ("snowstream", "s3-small"),
        ("bare", "s3-multipart"),
        ("snowstream", "s3-multipart"),
    ] {
        let cols = row(&stdout, t, s);
        let requests: u64 = cols[3].parse().unwrap();
        assert!(requests > 0, "{t} {s} completed no request");
    }
    assert!(stdout.contains("single-record: snowstream/bare"));
    assert!(stdout.contains("s3-small (PutObject): snowstream/bare"));
    assert!(stdout.contains("s3-multipart (Create + UploadPart x N + Complete)"));
    assert!(stdout.contains("SHARE these cores"));
    assert!(stdout.contains("VERIFIED: every acknowledged record landed exactly once"));
    let acked: u64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("acknowledged by snowstream (2xx, warm-up included): "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("acknowledged line");
    assert!(acked > 0);
}

#[test]
fn a_full_spool_shows_up_as_counted_503s_not_as_a_failure() {
    // 1 byte: the first request is let in, then the spool stays full (nothing lands
    // within the 60 s batch age), so later requests get 503 Retry-After.
    let (ok, stdout) = bench(&[
        "--targets",
        "snowstream",
        "--scenarios",
        "single",
        "--spool-max-bytes",
        "1",
    ]);
    assert!(ok, "bench failed");
    let cols = row(&stdout, "snowstream", "single");
    let unavailable: u64 = cols[9].parse().unwrap();
    assert!(unavailable > 0, "expected 503s: {cols:?}");
    assert!(stdout.contains("VERIFIED"));
}

#[test]
fn a_record_envelope_run_verifies_and_measures_the_app_alone() {
    let (ok, stdout) = bench(&[
        "--scenarios",
        "bulk,s3-multipart",
        "--envelope",
        "record",
        "--app-rss-uploads",
        "4",
        "--body-rss-bytes",
        "6MiB",
        "--object-rss-bytes",
        "8MiB",
    ]);
    assert!(ok, "bench failed");
    assert!(stdout.contains("envelope=record"));
    assert!(stdout.contains("landed bytes (this run's stream, --envelope record)"));
    assert!(stdout.contains("VERIFIED: every acknowledged record landed exactly once"));
    assert!(stdout.contains("whole bench process peak RSS"));
    // Eight 6 MiB bodies, each more than a part (received in parts), and an object:
    // every record once.
    let large = stdout
        .lines()
        .find(|l| l.contains("large-input memory"))
        .expect("the large-input memory line");
    assert!(
        large.contains("8 of 8 bodies and the object acknowledged"),
        "{large}"
    );
    assert!(
        stdout.contains(
            "VERIFIED: every body and the object acknowledged, each record landed exactly once"
        ),
        "{stdout}"
    );
    // The app-alone phase runs the `snowstream` binary next to the bench's, which
    // `cargo test -p snowstream-bench` alone does not build.
    let phase = stdout
        .lines()
        .find(|l| l.contains("s3-multipart peak RSS of snowstream serve"))
        .expect("the app-alone multipart line");
    if !phase.contains("NOT MEASURED: no snowstream binary") {
        assert!(phase.contains("(a separate child, VmHWM)"), "{phase}");
        assert!(
            stdout.contains("VERIFIED: its ") && !stdout.contains("PROBLEM"),
            "the child's landed files did not verify"
        );
    }
}
