//! Staleness alerts (issue 15): a stream with a 2 s `--stale-after` that receives nothing goes
//! stale - the gauge flips to 1, `/api/status` says so and a local webhook receiver gets the
//! alert, posted as a Slack/Teams incoming webhook takes it (`{"text": …}`, per Slack's
//! "Sending messages using incoming webhooks" and Teams' "Create an Incoming Webhook" docs);
//! once records arrive and a file lands it recovers - gauge 0, and the webhook gets the
//! recovery. The receiver fails its first call with a 500, so the alert is delivered by the
//! retry; records posted meanwhile are acknowledged (the webhook never blocks ingestion).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::inprocess::settings;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use snowstream::App;

#[derive(Default)]
struct Hook {
    calls: usize,
    alerts: Vec<serde_json::Value>,
}

async fn receive(
    State(hook): State<Arc<Mutex<Hook>>>,
    Json(body): Json<serde_json::Value>,
) -> StatusCode {
    let mut h = hook.lock().unwrap();
    h.calls += 1;
    if h.calls == 1 {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    h.alerts.push(body);
    StatusCode::OK
}

/// Waits (up to 30 s) until `f` holds.
async fn eventually(what: &str, mut f: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !f().await {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn stale_gauge(metrics: &str) -> Option<f64> {
    metrics
        .lines()
        .find(|l| l.starts_with("snowstream_stream_stale{") && l.contains("stream=\"customers\""))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_stream_goes_stale_alerts_and_recovers() {
    let _alone = crate::alone();
    let hook = Arc::new(Mutex::new(Hook::default()));
    let router = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(hook.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });

    let dir = tempfile::tempdir().unwrap();
    let webhook = format!("http://{hook_addr}/hook");
    let flags = [
        "--stale-after",
        "2s",
        "--batch-max-age",
        "200ms",
        "--alert-webhook",
        &webhook,
    ];
    let app = App::start(settings(dir.path(), &flags)).await.unwrap();
    let base = format!("http://{}", app.addr());
    let http = reqwest::Client::new();
    let get = |path: &str| {
        let (http, url) = (http.clone(), format!("{base}{path}"));
        async move { http.get(url).send().await.unwrap().text().await.unwrap() }
    };
    assert_eq!(
        stale_gauge(&get("/metrics").await),
        Some(0.0),
        "watched and fresh at start"
    );

    // Nothing arrives: stale after 2 s; the first post fails (500), the retry delivers it.
    eventually("the stale alert", async || {
        !hook.lock().unwrap().alerts.is_empty()
    })
    .await;
    let stale = hook.lock().unwrap().alerts[0].clone();
    assert_eq!(stale["state"], "stale", "{stale}");
    assert_eq!(stale["stream"], "customers");
    let text = stale["text"].as_str().expect("a Slack/Teams `text` field");
    assert!(
        text.contains("customers") && text.contains("stale"),
        "{text}"
    );
    assert!(hook.lock().unwrap().calls >= 2, "delivered by a retry");
    assert_eq!(stale_gauge(&get("/metrics").await), Some(1.0));
    let status: serde_json::Value = serde_json::from_str(&get("/api/status").await).unwrap();
    assert_eq!(status["streams"][0]["stale"], true, "{status}");
    assert_eq!(status["streams"][0]["stale_after_s"], 2.0);

    // Records arrive and land: recovered.
    let body = r#"{"id": 1, "name": "a"}"#;
    let resp = http
        .post(format!("{base}/contentListener/customers"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "acknowledged while stale");
    eventually("the recovery alert", async || {
        hook.lock().unwrap().alerts.len() >= 2
    })
    .await;
    let recovered = hook.lock().unwrap().alerts[1].clone();
    assert_eq!(recovered["state"], "recovered", "{recovered}");
    assert!(recovered["last_landed_ms"].as_u64().is_some());
    let metrics = get("/metrics").await;
    assert_eq!(stale_gauge(&metrics), Some(0.0));
    assert!(
        metrics.contains("snowstream_stream_last_landed_timestamp_seconds{stream=\"customers\"}"),
        "{metrics}"
    );
    let status: serde_json::Value = serde_json::from_str(&get("/api/status").await).unwrap();
    let s = &status["streams"][0];
    assert_eq!(
        (s["stale"].clone(), s["records_landed"].clone()),
        (false.into(), 1.into()),
        "{s}"
    );
    app.stop().await.unwrap();
}
