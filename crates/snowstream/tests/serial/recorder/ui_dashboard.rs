//! The Grafana dashboard (deploy/grafana/dashboard.json) and the Prometheus alert rules
//! (deploy/prometheus/alerts.yml) query only metrics the server really exports: every
//! `snowstream_…` name in them appears in `GET /metrics` of a running app that has received,
//! rejected, landed, watched staleness and tried a Snowpipe notifier (against a closed port,
//! so its REST errors are counted too).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::support::inprocess::settings;
use snowstream::App;

fn repo_file(path: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// `snowstream_…` names in `text` (PromQL in JSON or YAML).
fn metric_names(text: &str) -> BTreeSet<String> {
    let re = regex::Regex::new(r"\bsnowstream_[a-z0-9_]+").unwrap();
    re.find_iter(text).map(|m| m.as_str().to_owned()).collect()
}

/// PromQL expressions of the dashboard's panels.
fn dashboard_exprs() -> Vec<String> {
    let doc: serde_json::Value =
        serde_json::from_str(&repo_file("deploy/grafana/dashboard.json")).unwrap();
    let mut out = Vec::new();
    for p in doc["panels"].as_array().unwrap() {
        for t in p["targets"].as_array().into_iter().flatten() {
            out.push(t["expr"].as_str().unwrap().to_owned());
        }
    }
    out
}

/// PromQL expressions of the alert rules (`expr:` lines).
fn alert_exprs() -> Vec<String> {
    repo_file("deploy/prometheus/alerts.yml")
        .lines()
        .filter_map(|l| l.trim().strip_prefix("expr:"))
        .map(|e| e.trim().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_and_alerts_use_only_exported_metric_names() {
    let _alone = crate::alone();
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.pem");
    std::fs::write(&key, testkit::keys::rsa_key().private_pem).unwrap();
    let flags = [
        "--stale-after",
        "1h",
        "--batch-max-age",
        "100ms",
        "--snowpipe-pipe",
        "DB.RAW.PIPE",
        "--snowpipe-account",
        "acct",
        "--snowpipe-user",
        "loader",
        "--snowpipe-private-key",
        key.to_str().unwrap(),
        "--snowpipe-url",
        "http://127.0.0.1:1",
    ];
    let app = App::start(settings(dir.path(), &flags)).await.unwrap();
    let base = format!("http://{}", app.addr());
    let http = reqwest::Client::new();
    let post = |body: &'static str| {
        http.post(format!("{base}/contentListener/customers"))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    assert_eq!(post(r#"{"id": 1}"#).await.unwrap().status(), 200);
    assert_eq!(post("{not json").await.unwrap().status(), 400);
    let start = Instant::now();
    let metrics = loop {
        let m = http
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        // Landed, and the notifier has tried (and failed) to tell Snowpipe.
        if m.contains("snowstream_stream_last_landed_timestamp_seconds")
            && m.contains("snowstream_snowpipe_errors_total")
        {
            break m;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no landing yet:\n{m}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let exported: BTreeSet<String> = metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect();

    let dashboard = metric_names(&dashboard_exprs().join("\n"));
    let alerts = metric_names(&alert_exprs().join("\n"));
    assert!(dashboard.len() >= 10, "{dashboard:?}");
    assert_eq!(alerts.len(), 7, "six rules over seven metrics: {alerts:?}");
    let missing: Vec<_> = dashboard
        .union(&alerts)
        .filter(|n| !exported.contains(*n))
        .collect();
    assert!(
        missing.is_empty(),
        "queried but not exported: {missing:?}\nexported: {exported:?}"
    );
    app.stop().await.unwrap();
}
