//! The landing service end to end on a real spool directory and a real local sink.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use landing::sink::LocalSink;
use landing::{AckMode, AppendError, Landing, LandingConfig, StreamConfig};
use records::Batch;
use records::landed::Manifest;

type Switchable = testkit::SwitchableSink<LocalSink>;

fn switchable(root: &Path, up: bool) -> Arc<Switchable> {
    testkit::SwitchableSink::new(LocalSink::new(root).unwrap(), up)
}

fn config(spool: &Path, stream: StreamConfig) -> LandingConfig {
    LandingConfig {
        spool_dir: spool.to_owned(),
        instance: "test-1".into(),
        spool_max_bytes: 64 << 20,
        streams: vec![stream],
    }
}

fn batch(ids: std::ops::Range<u64>, filename: &str) -> Batch {
    let mut b = Batch::new(chrono::Utc::now());
    b.begin_group(&[("filename", filename)]);
    for i in ids {
        b.push_record(format!(r#"{{"id":{i},"name":"n{i}"}}"#).as_bytes());
    }
    b
}

/// A landing service with a local sink in `dir/landing` and its spool in `dir/spool`.
fn start_local(dir: &Path, stream: StreamConfig) -> Landing {
    let sink = Arc::new(LocalSink::new(dir.join("landing")).unwrap());
    Landing::start(config(&dir.join("spool"), stream), sink).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lands_records_with_metadata_and_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let mut sc = StreamConfig::new("customers");
    sc.prefix = "raw".into();
    let landing = start_local(dir.path(), sc);

    let mut tasks = Vec::new();
    for r in 0..8u64 {
        let l = &landing;
        tasks.push(async move {
            l.append("customers", batch(r * 10..r * 10 + 10, &format!("f{r}")))
                .await
        });
    }
    let receipts = futures::future::join_all(tasks).await;
    let mut firsts: Vec<u64> = receipts
        .iter()
        .map(|r| r.as_ref().unwrap().first_seq)
        .collect();
    firsts.sort();
    assert_eq!(firsts, (0..8).map(|i| 1 + i * 10).collect::<Vec<_>>());
    landing.flush().await;

    let files = testkit::landed_files(&dir.path().join("landing"));
    assert_eq!(files.len(), 1, "one batch file expected: {files:?}");
    let rel = files[0]
        .strip_prefix(dir.path().join("landing"))
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(rel.starts_with("raw/customers/dt="), "{rel}");
    assert!(
        rel.ends_with("/test-1-00000000000000000001.ndjson.zst"),
        "{rel}"
    );

    let lines = testkit::read_landed(&files[0]);
    assert_eq!(lines.len(), 80);
    let mut ids: Vec<u64> = lines
        .iter()
        .map(|l| l["record"]["id"].as_u64().unwrap())
        .collect();
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["meta"]["seq"].as_u64().unwrap(), i as u64 + 1);
        assert_eq!(l["meta"]["stream"], "customers");
        assert_eq!(l["meta"]["instance"], "test-1");
        let id = l["record"]["id"].as_u64().unwrap();
        assert_eq!(l["meta"]["attributes"]["filename"], format!("f{}", id / 10));
        assert_eq!(l["record"]["name"], format!("n{id}"));
        assert!(l["meta"]["received_at"].as_str().unwrap().ends_with('Z'));
    }
    ids.sort();
    assert_eq!(ids, (0..80).collect::<Vec<_>>());

    let manifest_path = format!("{}.manifest.json", files[0].display());
    let m: Manifest = serde_json::from_slice(&std::fs::read(manifest_path).unwrap()).unwrap();
    let stored = std::fs::read(&files[0]).unwrap();
    use sha2::Digest;
    assert_eq!(m.sha256, hex::encode(sha2::Sha256::digest(&stored)));
    assert_eq!(
        (m.records, m.first_seq, m.last_seq, m.bytes),
        (80, 1, 80, stored.len() as u64)
    );
    assert_eq!(m.key, rel);
    landing.shutdown().await;
    assert_eq!(landing.spool_bytes(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cuts_batches_by_record_count_and_age() {
    let dir = tempfile::tempdir().unwrap();
    let mut sc = StreamConfig::new("s");
    sc.max_records = 25;
    sc.max_age = Duration::from_millis(300);
    let landing = start_local(dir.path(), sc);
    for r in 0..10u64 {
        landing
            .append("s", batch(r * 10..r * 10 + 10, "f"))
            .await
            .unwrap();
    }
    // 100 records, cut after each request that reaches 25: files of 30, 30, 30, then 10 left open.
    // The open batch closes by age without any flush.
    let mut files = Vec::new();
    for _ in 0..100 {
        files = testkit::landed_files(&dir.path().join("landing"));
        if files.len() == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let counts: Vec<usize> = files
        .iter()
        .map(|f| testkit::read_landed(f).len())
        .collect();
    assert_eq!(counts, vec![30, 30, 30, 10]);
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "s-00000000000000000001",
            "s-00000000000000000031",
            "s-00000000000000000061",
            "s-00000000000000000091"
        ]
        .map(|n| format!("test-1-{}.ndjson.zst", &n[2..]))
    );
    landing.shutdown().await;
}

#[test]
fn restart_lands_what_was_acknowledged_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    let out = dir.path().join("landing");
    // Run 1: the sink is down; 5 requests are acknowledged (durable) and stay in the spool.
    {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let sink = switchable(&out, false);
            let mut sc = StreamConfig::new("s");
            sc.max_records = 20;
            let landing = Landing::start(config(&spool, sc), sink).unwrap();
            for r in 0..5u64 {
                landing
                    .append("s", batch(r * 10..r * 10 + 10, "f"))
                    .await
                    .unwrap();
            }
            assert!(landing.spool_bytes() > 0);
            // A second process on the same spool is refused.
            let again = Landing::start(
                config(&spool, StreamConfig::new("s")),
                switchable(&out, true),
            );
            assert!(again.err().unwrap().to_string().contains("in use"));
            drop(landing);
        });
        // dropping the runtime kills the lander mid-retry, like a crash
        rt.shutdown_timeout(Duration::from_millis(100));
    }
    assert!(testkit::landed_files(&out).is_empty());
    // Run 2: sink up; everything left in the spool lands, new appends continue the sequence.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        // Like a restarting process, wait (bounded) until the old one let go of the spool.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let landing = loop {
            match Landing::start(
                config(&spool, StreamConfig::new("s")),
                switchable(&out, true),
            ) {
                Ok(l) => break l,
                Err(e)
                    if e.to_string().contains("in use") && std::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("{e}"),
            }
        };
        let r = landing.append("s", batch(50..60, "g")).await.unwrap();
        assert_eq!(r.first_seq, 51);
        landing.shutdown().await;
    });
    let recs = testkit::landed_lines(&out);
    let mut ids: Vec<u64> = recs
        .iter()
        .map(|l| l["record"]["id"].as_u64().unwrap())
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        (0..60).collect::<Vec<_>>(),
        "every acknowledged record exactly once"
    );
    let mut seqs: Vec<u64> = recs
        .iter()
        .map(|l| l["meta"]["seq"].as_u64().unwrap())
        .collect();
    seqs.sort();
    assert_eq!(seqs, (1..=60).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_spool_refuses_then_accepts_after_landing() {
    let dir = tempfile::tempdir().unwrap();
    let sink = switchable(&dir.path().join("landing"), false);
    let mut cfg = config(&dir.path().join("spool"), StreamConfig::new("s"));
    cfg.spool_max_bytes = 20_000;
    let landing = Landing::start(cfg, sink.clone()).unwrap();
    let mut accepted = 0u64;
    let mut refused = None;
    for r in 0..1000u64 {
        match landing.append("s", batch(r * 10..r * 10 + 10, "f")).await {
            Ok(_) => accepted += 10,
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    assert!(
        matches!(refused, Some(AppendError::SpoolFull { .. })),
        "{refused:?}"
    );
    assert!(accepted > 0);
    sink.set_up(true);
    landing.flush().await;
    // give the lander's backoff time to retry (bounded)
    for _ in 0..100 {
        if landing.spool_bytes() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(landing.spool_bytes(), 0);
    landing.append("s", batch(0..1, "f")).await.unwrap();
    landing.shutdown().await;
    assert_eq!(
        testkit::landed_lines(&dir.path().join("landing")).len() as u64,
        accepted + 1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ack_landed_waits_for_the_sink() {
    let dir = tempfile::tempdir().unwrap();
    let sink = switchable(&dir.path().join("landing"), false);
    let mut sc = StreamConfig::new("s");
    sc.ack = AckMode::Landed;
    sc.max_age = Duration::from_millis(50);
    let landing =
        Arc::new(Landing::start(config(&dir.path().join("spool"), sc), sink.clone()).unwrap());
    let l = landing.clone();
    let pending = tokio::spawn(async move { l.append("s", batch(0..3, "f")).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !pending.is_finished(),
        "acknowledged before the file landed"
    );
    sink.set_up(true);
    let r = tokio::time::timeout(Duration::from_secs(30), pending)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(r.records, 3);
    assert_eq!(testkit::landed_lines(&dir.path().join("landing")).len(), 3);
    landing.shutdown().await;
}

#[tokio::test]
async fn unknown_stream_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let landing = start_local(dir.path(), StreamConfig::new("s"));
    let err = landing.append("nope", batch(0..1, "f")).await.unwrap_err();
    assert_eq!(err.to_string(), "no stream named \"nope\" is configured");
    landing.shutdown().await;
}

#[tokio::test]
async fn an_empty_batch_is_accepted_without_landing_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let landing = start_local(dir.path(), StreamConfig::new("s"));
    let r = landing
        .append("s", Batch::new(chrono::Utc::now()))
        .await
        .unwrap();
    assert_eq!(r.records, 0);
    landing.flush().await;
    landing.append("s", batch(0..2, "f")).await.unwrap();
    landing.shutdown().await;
    let files = testkit::landed_files(&dir.path().join("landing"));
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(testkit::read_landed(&files[0]).len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spool_smaller_than_a_batch_still_drains() {
    // Default batches are 128 MiB and 60 s; the spool here is 20 kB. Batches must close at
    // half the spool so it drains long before the batch would age out.
    let dir = tempfile::tempdir().unwrap();
    let sink = Arc::new(LocalSink::new(dir.path().join("landing")).unwrap());
    let mut cfg = config(&dir.path().join("spool"), StreamConfig::new("s"));
    cfg.spool_max_bytes = 20_000;
    let landing = Landing::start(cfg, sink).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    for r in 0..100u64 {
        loop {
            match landing.append("s", batch(r * 10..r * 10 + 10, "f")).await {
                Ok(_) => break,
                Err(AppendError::SpoolFull { .. }) => {
                    assert!(std::time::Instant::now() < deadline, "spool never drained");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("{e}"),
            }
        }
    }
    landing.shutdown().await;
    assert_eq!(
        testkit::landed_lines(&dir.path().join("landing")).len(),
        1000
    );
}
