//! The Snowpipe notifier end to end against the embedded warehouse's REST endpoints on
//! 127.0.0.1: files land in a local folder (the "stage"), the notifier calls insertFiles with
//! a key-pair JWT, and the warehouse loads them. Includes a restart between landing and
//! notifying, a re-notified file, a file Snowpipe rejects, a bad key, and > 5,000 files.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use landing::notify::{NotifyQueue, SnowpipeConfig};
use landing::sink::LocalSink;
use landing::{Landing, LandingConfig, StreamConfig};
use records::Batch;
use snowpipe::Verifier;
use warehouse::rest::{PipeConfig, PipeService, router};
use warehouse::{TableSpec, Warehouse};

const PIPE: &str = "DB.RAW.CUSTOMERS_PIPE";

/// Writes a new key pair into `dir`: (private key path, public key PEM).
fn new_key(dir: &Path, name: &str) -> (PathBuf, String) {
    let key = testkit::keys::rsa_key();
    let path = dir.join(format!("{name}.p8"));
    std::fs::write(&path, key.private_pem).unwrap();
    (path, key.public_pem)
}

/// The embedded REST pipe over `stage` on `addr` (port 0: any).
async fn start_pipe(
    db: &Path,
    stage: &Path,
    public_key: &str,
    addr: SocketAddr,
) -> (SocketAddr, Arc<PipeService>) {
    let wh = Warehouse::open(db, &TableSpec::customers()).unwrap();
    let service = PipeService::new(
        wh,
        PipeConfig {
            landing_dir: stage.to_owned(),
            location: "customers".into(),
            verifier: Verifier::new(public_key.as_bytes(), Some("myacct"), Some("loader")).unwrap(),
            pipe: Some(PIPE.into()),
            run_tasks: false,
        },
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router(service.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, service)
}

fn stream(key: &Path, url: String) -> StreamConfig {
    let mut sc = StreamConfig::new("customers");
    sc.prefix = "raw".into();
    sc.max_records = 10;
    sc.max_age = Duration::from_secs(3600);
    let mut sp = SnowpipeConfig::new("myacct.eu-central-1", "loader", key, PIPE);
    sp.url = Some(url);
    // Paths relative to the pipe's location (`FROM @stage/customers/`).
    sp.strip_prefix = "raw/customers".into();
    sp.poll_interval = Duration::from_millis(100);
    sp.history_after = Duration::from_millis(500);
    sc.snowpipe = Some(sp);
    sc
}

fn start_landing(spool: &Path, landing: &Path, sc: StreamConfig) -> Landing {
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

/// (rows in the raw table, load-history rows, distinct file names in it)
fn loaded(svc: &PipeService) -> (u64, u64, u64) {
    svc.with_warehouse(|wh| {
        let raw = wh.counts().unwrap().raw;
        let q = wh
            .query("SELECT COUNT(*), COUNT(DISTINCT file_name) FROM load_history")
            .unwrap();
        (
            raw,
            q.rows[0][0].as_u64().unwrap(),
            q.rows[0][1].as_u64().unwrap(),
        )
    })
}

/// Waits (bounded) until `cond` holds.
async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..1200 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// The temporary directory with the spool, landing folder and warehouse database paths in it.
fn dirs() -> (tempfile::TempDir, PathBuf, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let (spool, landing, db) = (
        dir.path().join("spool"),
        dir.path().join("landing"),
        dir.path().join("wh.db"),
    );
    (dir, spool, landing, db)
}

/// The embedded REST pipe over `landing/raw` on any free port, then a landing service that
/// notifies it with the private key at `key`.
async fn start_both(
    spool: &Path,
    landing: &Path,
    db: &Path,
    key: &Path,
    public_key: &str,
) -> (Landing, Arc<PipeService>) {
    let stage = landing.join("raw");
    let (addr, svc) = start_pipe(db, &stage, public_key, "127.0.0.1:0".parse().unwrap()).await;
    let l = start_landing(spool, landing, stream(key, format!("http://{addr}")));
    (l, svc)
}

/// Waits (bounded) until the notifier's queue for "customers" is empty.
async fn wait_drained(l: &Landing, what: &str) {
    wait_for(what, || l.snowpipe_status("customers").unwrap().queued == 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_landed_file_is_loaded_once_across_a_restart() {
    let (dir, spool, landing, db) = dirs();
    let stage = landing.join("raw");
    let (key, public) = new_key(dir.path(), "loader");

    // A free port, not served yet: notifying fails while files land.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("http://{addr}");
    let l = start_landing(&spool, &landing, stream(&key, url.clone()));
    append(&l, 0..50).await;
    assert_eq!(testkit::landed_files(&landing).len(), 5);
    let status = l.snowpipe_status("customers").unwrap();
    assert_eq!(status.queued, 5, "all five wait in the queue");
    assert_eq!(status.notified, 0);
    l.shutdown().await;
    drop(l);

    // While stopped: re-queue a file (as after a crash between queueing and deleting the
    // segment) and queue a key Snowpipe cannot load.
    let queue_path = spool.join("customers").join("snowpipe.queue");
    let q = NotifyQueue::open(&queue_path).unwrap();
    let first = q.peek(1)[0].clone();
    q.push(&first).unwrap();
    q.push("raw/customers/dt=2026-11-24/hh=13/ss-1-00000000000000999999.ndjson.zst")
        .unwrap();
    assert_eq!(q.len(), 6);
    drop(q);

    // The pipe comes up; a restarted snowstream sends what its queue holds.
    let (_, svc) = start_pipe(&db, &stage, &public, addr).await;
    let l = start_landing(&spool, &landing, stream(&key, url.clone()));
    wait_for("the five landed files to load", || {
        loaded(&svc) == (50, 5, 5)
    })
    .await;
    wait_drained(&l, "the queue to drain").await;

    // More records after the restart, then the first file notified once more by hand.
    append(&l, 50..80).await;
    wait_for("the new files to load", || loaded(&svc) == (80, 8, 8)).await;
    // The pipe has the files before the notifier has its answer and acks its queue; a
    // shutdown in between would (rightly) leave them queued to be sent again.
    wait_drained(&l, "the queue to drain again").await;
    l.shutdown().await;
    drop(l);
    let q = NotifyQueue::open(&queue_path).unwrap();
    assert!(q.is_empty());
    q.push(&first).unwrap();
    drop(q);
    let l = start_landing(&spool, &landing, stream(&key, url));
    wait_drained(&l, "the re-sent file to be acknowledged").await;
    // Loaded once: Snowpipe's (here: the warehouse's) load history skipped it, so
    // insertReport has no event for it and the notifier finds it with loadHistoryScan.
    wait_for("the skipped file's status from loadHistoryScan", || {
        l.snowpipe_status("customers").unwrap().loaded == 1
    })
    .await;
    assert_eq!(loaded(&svc), (80, 8, 8));
    assert_eq!(testkit::landed_files(&landing).len(), 8);
    l.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_status_is_followed_and_rejections_are_reported() {
    let (dir, spool, landing, db) = dirs();
    let (key, public) = new_key(dir.path(), "loader");
    // A key Snowpipe will refuse (no such file), queued before start.
    std::fs::create_dir_all(spool.join("customers")).unwrap();
    let q = NotifyQueue::open(&spool.join("customers").join("snowpipe.queue")).unwrap();
    q.push("raw/customers/missing.ndjson.zst").unwrap();
    // And a key the pipe's PATTERN does not match: Snowpipe lists it in unmatchedPatternFiles.
    q.push("raw/customers/notes.txt").unwrap();
    drop(q);
    let (l, svc) = start_both(&spool, &landing, &db, &key, &public).await;
    append(&l, 0..20).await;
    wait_for("two loads and two rejections reported", || {
        let st = l.snowpipe_status("customers").unwrap();
        st.loaded == 2 && st.failed == 2
    })
    .await;
    let st = l.snowpipe_status("customers").unwrap();
    assert_eq!((st.notified, st.queued), (4, 0));
    assert_eq!(st.rejected.len(), 2);
    let by = |status: &str| st.rejected.iter().find(|r| r.status == status).unwrap();
    assert_eq!(by("UNMATCHED_PATTERN").path, "notes.txt");
    let missing = by("LOAD_FAILED");
    assert_eq!(missing.path, "missing.ndjson.zst");
    assert!(
        missing
            .first_error
            .as_deref()
            .unwrap()
            .contains("not found"),
        "{missing:?}"
    );
    assert_eq!(loaded(&svc), (20, 2, 2));
    l.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_the_pipe_does_not_know_is_refused_and_nothing_is_lost() {
    let (dir, spool, landing, db) = dirs();
    let (_registered, public) = new_key(dir.path(), "registered");
    let (wrong, _) = new_key(dir.path(), "wrong");
    let (l, svc) = start_both(&spool, &landing, &db, &wrong, &public).await;
    append(&l, 0..10).await;
    wait_for("the 401 to be reported", || {
        l.snowpipe_status("customers")
            .unwrap()
            .last_error
            .is_some_and(|e| e.contains("401") && e.contains("390144"))
    })
    .await;
    let st = l.snowpipe_status("customers").unwrap();
    assert_eq!((st.notified, st.queued), (0, 1), "the file stays queued");
    assert_eq!(loaded(&svc), (0, 0, 0));
    l.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_than_5000_files_are_sent_in_batches() {
    let (dir, spool, landing, db) = dirs();
    let (key, public) = new_key(dir.path(), "loader");
    let stage = landing.join("raw");
    // 5,001 small landed files and a queue naming them all (the server refuses > 5,000 paths
    // in one call, so they only load if the notifier splits them).
    let n = 5_001u64;
    let part = stage.join("customers/dt=2026-11-24/hh=13");
    std::fs::create_dir_all(&part).unwrap();
    let mut queue = String::new();
    for i in 0..n {
        let name = format!("ss-1-{i:020}.ndjson.zst");
        let line = format!(r#"{{"record":{{"id":{i}}},"meta":{{"seq":{i}}}}}"#);
        std::fs::write(
            part.join(&name),
            zstd::encode_all(line.as_bytes(), 1).unwrap(),
        )
        .unwrap();
        queue.push_str(&format!("+raw/customers/dt=2026-11-24/hh=13/{name}\n"));
    }
    std::fs::create_dir_all(spool.join("customers")).unwrap();
    std::fs::write(spool.join("customers").join("snowpipe.queue"), queue).unwrap();

    let (l, svc) = start_both(&spool, &landing, &db, &key, &public).await;
    wait_for("all 5,001 files to load", || loaded(&svc) == (n, n, n)).await;
    wait_drained(&l, "the queue to drain").await;
    assert_eq!(l.snowpipe_status("customers").unwrap().notified, n);
    l.shutdown().await;
}
