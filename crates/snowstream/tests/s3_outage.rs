//! Stop the S3 server mid-load: the spool holds what was acknowledged, fills up, and the
//! receiver answers 503 + Retry-After instead of growing without bound; once S3 is back
//! everything acknowledged lands, exactly once.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use testkit::{S3_ACCESS_KEY, S3_SECRET_KEY, ServerProcess, TestS3, free_port, landed_lines};

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
    let store = dir.path().join("store");
    std::fs::create_dir_all(store.join(BUCKET)).unwrap();
    let s3 = TestS3::start(&store, "127.0.0.1:0".parse().unwrap()).await;
    let s3_addr: SocketAddr = s3.addr;
    let bin = Path::new(env!("CARGO_BIN_EXE_snowstream"));
    let data = dir.path().join("data").to_str().unwrap().to_owned();
    let endpoint = s3.endpoint();
    let args: Vec<String> = [
        "--data-dir",
        &data,
        "--instance-id",
        "s3-1",
        "--sink",
        "s3",
        "--s3-bucket",
        BUCKET,
        "--s3-endpoint-url",
        &endpoint,
        "--s3-region",
        "us-east-1",
        "--prefix",
        "raw",
        "--spool-max-bytes",
        "256KiB",
        "--batch-max-age",
        "200ms",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let env = [
        ("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", S3_SECRET_KEY),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    let port = free_port();
    let server = {
        let args = args.clone();
        tokio::task::spawn_blocking(move || {
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            ServerProcess::start(bin, port, &a, &env)
        })
        .await
        .unwrap()
    };
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
    while landed_lines(&store.join(BUCKET)).len() < 50 {
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
    let s3 = TestS3::start(&store, s3_addr).await;
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
    let code = tokio::task::spawn_blocking(move || server.terminate(Duration::from_secs(90)))
        .await
        .unwrap();
    assert_eq!(code, Some(0));
    s3.stop().await;

    let mut seen: HashMap<u64, usize> = HashMap::new();
    for line in landed_lines(&store.join(BUCKET)) {
        *seen
            .entry(line["record"]["id"].as_u64().unwrap())
            .or_default() += 1;
    }
    assert!(seen.values().all(|n| *n == 1), "a record landed twice");
    let lost = acked.iter().filter(|id| !seen.contains_key(id)).count();
    assert_eq!(lost, 0, "acknowledged records lost");
    assert!(
        landed_lines(&store.join(BUCKET))
            .iter()
            .all(|l| l["meta"]["stream"] == "customers")
    );
    assert!(
        testkit::landed_files(&store.join(BUCKET)).iter().all(|p| p
            .strip_prefix(store.join(BUCKET))
            .unwrap()
            .starts_with("raw/customers")),
        "keys under the configured prefix"
    );
}
