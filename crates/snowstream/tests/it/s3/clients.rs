//! boto3 and the AWS CLI, at their current defaults, against the S3 front door: the script
//! `scripts/s3_clients_check.py` runs every call and reports what it had acknowledged and
//! refused; this test checks that exactly those records landed. The clients live in a venv
//! made by `scripts/setup-s3-clients.sh`; without it the test says so and passes, unless
//! `SNOWSTREAM_REQUIRE_S3_CLIENTS=1` (as in CI) makes that a failure.

use std::path::PathBuf;
use std::time::Duration;

use crate::support::s3::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_and_aws_cli_land_every_acknowledged_record_once() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = root.join("target/s3-clients-venv/bin/python");
    if !python.exists() {
        let required = std::env::var("SNOWSTREAM_REQUIRE_S3_CLIENTS").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "{} is missing: run scripts/setup-s3-clients.sh",
            python.display()
        );
        eprintln!("skipped: run scripts/setup-s3-clients.sh to test boto3 and the AWS CLI");
        return;
    }
    let t = start(|_| {}).await;
    let work = t.dir.path().join("clients");
    std::fs::create_dir_all(&work).unwrap();
    let run = tokio::process::Command::new(&python)
        .arg(root.join("scripts/s3_clients_check.py"))
        .arg(t.endpoint())
        .arg(AK)
        .arg(SK)
        .arg(&work)
        .env_remove("AWS_PROFILE")
        .env("NO_PROXY", "127.0.0.1")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(300), run)
        .await
        .expect("client script finished within 5 minutes")
        .expect("client script ran");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "client script failed:\n{stderr}");
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("client script prints its JSON report");

    let lines = t.landed().await;
    let mut expected_total = 0;
    for (key, n) in report["accepted"].as_object().expect("accepted") {
        let n = n.as_u64().unwrap() as usize;
        assert_eq!(records_of(&lines, key).len(), n, "records of {key}");
        expected_total += n;
    }
    for key in report["rejected"].as_array().expect("rejected") {
        let key = key.as_str().unwrap();
        assert!(records_of(&lines, key).is_empty(), "{key} was refused");
    }
    assert_eq!(lines.len(), expected_total);
    let mut ids: Vec<String> = lines
        .iter()
        .map(|l| l["record"]["id"].as_str().expect("string id").to_owned())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), expected_total, "every record exactly once");
}
