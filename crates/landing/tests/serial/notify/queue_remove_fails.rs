//! `insertFiles` succeeds but the notify queue cannot record it (issue 22, item 5): with the
//! failpoint `notify-queue-remove` on, the notifier retries only the removal, with the
//! backoff it uses for failed `insertFiles` calls, instead of sending the same files again in
//! a hot loop. Once the fault clears every landed file has been notified, once, and the queue
//! is empty.
//!
//! The stand-in Snowpipe is the embedded warehouse's REST pipe, behind a layer that counts
//! the `insertFiles` calls it receives and the paths they name. The failpoint registry is
//! process-wide: `FailScenario::setup` serializes failpoint tests.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use landing::notify::{NotifyQueue, SnowpipeConfig};
use landing::sink::LocalSink;
use landing::{Landing, LandingConfig, StreamConfig};
use records::Batch;
use snowpipe::{InsertRequest, Verifier};
use warehouse::rest::{PipeConfig, PipeService, router};
use warehouse::{TableSpec, Warehouse};

const PIPE: &str = "DB.RAW.CUSTOMERS_PIPE";

/// What the stand-in Snowpipe received: `insertFiles` calls and the paths they named.
#[derive(Clone, Default)]
struct Received {
    calls: Arc<AtomicUsize>,
    paths: Arc<Mutex<Vec<String>>>,
}

impl Received {
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn paths(&self) -> Vec<String> {
        self.paths.lock().unwrap().clone()
    }
}

/// Counts an `insertFiles` call and records its paths, then passes it on to the pipe.
async fn record(State(seen): State<Received>, req: Request, next: Next) -> Response {
    if !req.uri().path().ends_with("/insertFiles") {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let call: InsertRequest = serde_json::from_slice(&bytes).unwrap();
    seen.calls.fetch_add(1, Ordering::SeqCst);
    seen.paths
        .lock()
        .unwrap()
        .extend(call.files.into_iter().map(|f| f.path));
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// The embedded REST pipe over `stage`, recording into `seen`, on any free port.
async fn start_pipe(db: &Path, stage: &Path, public_key: &str, seen: Received) -> String {
    let service = PipeService::new(
        Warehouse::open(db, &TableSpec::customers()).unwrap(),
        PipeConfig {
            landing_dir: stage.to_owned(),
            location: "customers".into(),
            verifier: Verifier::new(public_key.as_bytes(), Some("myacct"), Some("loader")).unwrap(),
            pipe: Some(PIPE.into()),
            run_tasks: false,
        },
    )
    .unwrap();
    let app = router(service).layer(axum::middleware::from_fn_with_state(seen, record));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn start_landing(spool: &Path, landing: &Path, key: &Path, url: String) -> Landing {
    let mut sc = StreamConfig::new("customers");
    sc.prefix = "raw".into();
    sc.max_records = 10;
    sc.max_age = Duration::from_secs(3600);
    let mut sp = SnowpipeConfig::new("myacct.eu-central-1", "loader", key, PIPE);
    sp.url = Some(url);
    // Paths relative to the pipe's location (`FROM @stage/customers/`).
    sp.strip_prefix = "raw/customers".into();
    sp.poll_interval = Duration::from_millis(100);
    sc.snowpipe = Some(sp);
    Landing::start(
        LandingConfig {
            spool_dir: spool.to_owned(),
            instance: "ss-1".into(),
            spool_max_bytes: 64 << 20,
            streams: vec![sc],
        },
        Arc::new(LocalSink::new(landing).unwrap()),
    )
    .unwrap()
}

/// Appends records `ids` in batches of ten (one landed file each) and waits until landed.
async fn append(l: &Landing, ids: std::ops::Range<u64>) {
    for chunk in ids.collect::<Vec<_>>().chunks(10) {
        let mut b = Batch::new(chrono::Utc::now());
        for i in chunk {
            b.push_record(format!(r#"{{"id":{i},"name":"n{i}"}}"#).as_bytes());
        }
        l.append("customers", b).await.unwrap();
    }
    l.flush().await;
}

/// Waits (bounded) until `cond` holds.
async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..600 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// The path of every landed file relative to the pipe's location (`FROM @stage/customers/`),
/// sorted.
fn landed_paths(stage: &Path) -> Vec<String> {
    let location = stage.join("customers");
    let mut paths: Vec<String> = testkit::landed_files(stage)
        .iter()
        .map(|p| {
            p.strip_prefix(&location)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    paths.sort();
    paths
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_queue_removal_is_retried_with_backoff_and_nothing_is_sent_twice() {
    let scenario = fail::FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    let (spool, landing, db) = (
        dir.path().join("spool"),
        dir.path().join("landing"),
        dir.path().join("wh.db"),
    );
    let stage = landing.join("raw");
    let key = testkit::keys::rsa_key();
    let key_path = dir.path().join("loader.p8");
    std::fs::write(&key_path, &key.private_pem).unwrap();
    let seen = Received::default();
    let url = start_pipe(&db, &stage, &key.public_pem, seen.clone()).await;

    // The queue takes keys but cannot record that Snowpipe accepted them.
    fail::cfg("notify-queue-remove", "return").unwrap();
    let l = start_landing(&spool, &landing, &key_path, url);
    append(&l, 0..30).await;
    wait_for("the first insertFiles call", || seen.calls() >= 1).await;
    // Backoff waits of 200, 400 and 800 ms fit in these 2 s: a few removal attempts, and no
    // further call, since the files in the failed removal are not sent again. A hot loop
    // makes a call every few milliseconds.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let calls_while_failing = seen.calls();
    let pending = l.snowpipe_status("customers").unwrap().queued;
    fail::remove("notify-queue-remove");
    assert!(
        calls_while_failing <= 3,
        "{calls_while_failing} insertFiles calls in 2 s while the queue removal fails"
    );
    assert_eq!(pending, 3, "nothing leaves the queue while removals fail");

    // The fault cleared: the removal goes through on its next attempt, then the rest is sent.
    wait_for("the queue to drain", || {
        l.snowpipe_status("customers").unwrap().queued == 0
    })
    .await;
    let files = landed_paths(&stage);
    assert_eq!(files.len(), 3);
    let mut received = seen.paths();
    received.sort();
    assert_eq!(received, files, "every landed file notified, each once");
    assert_eq!(l.snowpipe_status("customers").unwrap().notified, 3);
    l.shutdown().await;
    drop(l);
    let q = NotifyQueue::open(&spool.join("customers").join("snowpipe.queue")).unwrap();
    assert!(q.is_empty(), "the queue ends empty: {:?}", q.peek(10));
    scenario.teardown();
}
