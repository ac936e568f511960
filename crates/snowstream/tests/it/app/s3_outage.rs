//! Stop the S3 server mid-load: the spool holds what was acknowledged, fills up, and the
//! receiver answers 503 + Retry-After instead of growing without bound; once S3 is back
//! everything acknowledged lands, exactly once.

use std::path::Path;
use std::time::{Duration, Instant};

use testkit::s3_child::{OutageS3, start_child, terminate_child};
use testkit::{free_port, landed_lines};

const BUCKET: &str = "landing";

async fn post(http: &reqwest::Client, url: &str, first_id: u64, n: u64) -> reqwest::Response {
    let body: String = (first_id..first_id + n)
        .map(|id| format!("{{\"id\":{id},\"pad\":\"{}\"}}\n", "x".repeat(200)))
        .collect();
    http.post(url)
        .header("content-type", "application/x-ndjson")
        .body(body)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("server reachable")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_outage_backpressures_then_lands_everything() {
    let dir = tempfile::tempdir().unwrap();
    let mut s3 = OutageS3::start(&dir.path().join("store"), BUCKET).await;
    let bucket = s3.bucket_dir();
    let bin = Path::new(env!("CARGO_BIN_EXE_snowstream"));
    let args = s3.child_args(
        &dir.path().join("data"),
        "s3-1",
        &[
            "--prefix",
            "raw",
            "--spool-max-bytes",
            "256KiB",
            "--batch-max-age",
            "200ms",
        ],
    );
    let server = start_child(bin, free_port(), &args).await.unwrap();
    let url = format!("{}/contentListener", server.base);
    let http = reqwest::Client::new();
    let mut acked: Vec<u64> = Vec::new();
    let mut next_id = 0u64;

    // S3 up: records land.
    for _ in 0..5 {
        assert!(post(&http, &url, next_id, 10).await.status().is_success());
        acked.extend(next_id..next_id + 10);
        next_id += 10;
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while landed_lines(&bucket).len() < 50 {
        assert!(
            Instant::now() < deadline,
            "first records did not land in S3"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // S3 down: keep posting until the spool is full and the server says 503.
    s3.stop().await;
    let mut saw_503 = false;
    for _ in 0..2_000 {
        let resp = post(&http, &url, next_id, 10).await;
        if resp.status() == reqwest::StatusCode::SERVICE_UNAVAILABLE {
            let retry_after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            assert!(
                retry_after.is_some_and(|v| v.parse::<u32>().unwrap() > 0),
                "503 without Retry-After"
            );
            saw_503 = true;
            break;
        }
        assert!(resp.status().is_success(), "unexpected {}", resp.status());
        acked.extend(next_id..next_id + 10);
        next_id += 10;
    }
    assert!(saw_503, "spool never filled: no backpressure");
    assert!(
        testkit::http_get_ok(&format!("{}/healthcheck", server.base)),
        "server still alive under backpressure"
    );

    // S3 back on the same address: the spool drains and new records are accepted again.
    s3.restart().await;
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let resp = post(&http, &url, next_id, 10).await;
        if resp.status().is_success() {
            acked.extend(next_id..next_id + 10);
            break;
        }
        next_id += 10;
        assert!(
            Instant::now() < deadline,
            "spool never drained after S3 came back"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let code = terminate_child(server, Duration::from_secs(90))
        .await
        .unwrap();
    assert_eq!(code, Some(0));
    s3.stop().await;

    crate::support::inprocess::assert_acked_landed_once(&bucket, &acked);
    assert!(
        landed_lines(&bucket)
            .iter()
            .all(|l| l["meta"]["stream"] == "customers")
    );
    assert!(
        testkit::landed_files(&bucket).iter().all(|p| p
            .strip_prefix(&bucket)
            .unwrap()
            .starts_with("raw/customers")),
        "keys under the configured prefix"
    );
}
