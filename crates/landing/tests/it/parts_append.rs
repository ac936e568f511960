//! A request appended in parts (`Landing::begin_parts`) on a real spool and a real local sink:
//! one receipt for all its records, landed once, in order, under consecutive sequence numbers,
//! in one batch file even past the batch size; its spool bytes reserved part by part and given
//! back when it is dropped; refused like `append` when the spool is full.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use landing::sink::LocalSink;
use landing::{AckMode, AppendError, Landing, LandingConfig, StreamConfig};
use records::Batch;

fn start(dir: &Path, stream: StreamConfig, spool_max_bytes: u64) -> Landing {
    Landing::start(
        LandingConfig {
            spool_dir: dir.join("spool"),
            instance: "t".into(),
            spool_max_bytes,
            streams: vec![stream],
        },
        Arc::new(LocalSink::new(dir.join("landing")).unwrap()),
    )
    .unwrap()
}

/// Records `{"id":i,"pad":"…"}` for `ids`, `pad` bytes of padding each.
fn batch(ids: std::ops::Range<u64>, pad: usize) -> Batch {
    let mut b = Batch::new(chrono::Utc::now());
    b.begin_group(&[("filename", format!("f{}", ids.start))]);
    for i in ids {
        b.push_record(format!(r#"{{"id":{i},"pad":"{}"}}"#, "x".repeat(pad)).as_bytes());
    }
    b
}

/// `(seq, id)` of every landed record, and how many files landed.
fn landed(dir: &Path) -> (Vec<(u64, u64)>, usize) {
    let root = dir.join("landing");
    let mut lines: Vec<(u64, u64)> = testkit::landed_lines(&root)
        .iter()
        .map(|l| {
            (
                l["meta"]["seq"].as_u64().unwrap(),
                l["record"]["id"].as_u64().unwrap(),
            )
        })
        .collect();
    lines.sort();
    (lines, testkit::landed_files(&root).len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parts_and_last_land_once_in_order_with_one_receipt_in_every_ack_mode() {
    for ack in [AckMode::Received, AckMode::Durable, AckMode::Landed] {
        let dir = tempfile::tempdir().unwrap();
        let mut sc = StreamConfig::new("s");
        sc.ack = ack;
        let landing = start(dir.path(), sc, 64 << 20);
        // Acknowledged once landed with `ack = landed`: flush after sending.
        let (before, ()) = tokio::join!(landing.append("s", batch(0..2, 0)), landing.flush());
        assert_eq!(before.unwrap().first_seq, 1);

        let mut parts = landing.begin_parts("s").unwrap();
        parts.push(batch(100..130, 10)).await.unwrap();
        parts.push(Batch::new(chrono::Utc::now())).await.unwrap();
        parts.push(batch(130..131, 10)).await.unwrap();
        parts.push(batch(131..200, 10)).await.unwrap();
        assert_eq!(parts.records(), 100, "an empty part counts nothing");
        let (receipt, ()) = tokio::join!(parts.commit(batch(200..205, 10)), landing.flush());
        let receipt = receipt.unwrap();
        assert_eq!((receipt.first_seq, receipt.records), (3, 105), "{ack:?}");
        assert!(!receipt.is_duplicate());
        let (after, ()) = tokio::join!(landing.append("s", batch(7..8, 0)), landing.flush());
        assert_eq!(after.unwrap().first_seq, 108);

        tokio::time::timeout(Duration::from_secs(20), landing.flush())
            .await
            .unwrap();
        let (lines, _) = landed(dir.path());
        let want: Vec<(u64, u64)> = [(1, 0), (2, 1)]
            .into_iter()
            .chain((100..205).map(|id| (id - 97, id)))
            .chain([(108, 7)])
            .collect();
        assert_eq!(lines, want, "{ack:?}: every record once, in order, no gap");
        assert_eq!(landing.spool_bytes(), 0, "every reserved byte given back");
        landing.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_past_the_batch_size_is_not_split_across_batch_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut sc = StreamConfig::new("s");
    sc.max_bytes = 2 << 10;
    let landing = start(dir.path(), sc, 64 << 20);
    let mut parts = landing.begin_parts("s").unwrap();
    // In a task of its own, as a front door's request is (its futures are Send).
    let receipt = tokio::spawn(async move {
        for p in 0..4 {
            // About 2 KiB each: every part alone fills a batch.
            parts.push(batch(p * 20..p * 20 + 20, 100)).await.unwrap();
        }
        parts.commit(batch(80..100, 100)).await
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!((receipt.first_seq, receipt.records), (1, 100));
    landing.append("s", batch(100..101, 0)).await.unwrap();
    landing.flush().await;
    let (lines, files) = landed(dir.path());
    assert_eq!(lines, (0..101).map(|id| (id + 1, id)).collect::<Vec<_>>());
    assert_eq!(
        files, 2,
        "the run in one file, the append after it in the next"
    );
    landing.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_nothing_pushed_commit_is_an_append() {
    let dir = tempfile::tempdir().unwrap();
    let landing = start(dir.path(), StreamConfig::new("s"), 64 << 20);
    let empty = landing.begin_parts("s").unwrap();
    let r = empty.commit(Batch::new(chrono::Utc::now())).await.unwrap();
    assert_eq!(r.records, 0, "nothing to append");
    let mut one = landing.begin_parts("s").unwrap();
    one.push(Batch::new(chrono::Utc::now())).await.unwrap();
    let r = one.commit(batch(5..8, 0)).await.unwrap();
    assert_eq!((r.first_seq, r.records), (1, 3));
    // Parts and an empty last batch: the last part ends the run.
    let mut no_last = landing.begin_parts("s").unwrap();
    no_last.push(batch(8..10, 0)).await.unwrap();
    let r = no_last
        .commit(Batch::new(chrono::Utc::now()))
        .await
        .unwrap();
    assert_eq!((r.first_seq, r.records), (4, 2));
    landing.flush().await;
    let (lines, _) = landed(dir.path());
    assert_eq!(lines, [(1, 5), (2, 6), (3, 7), (4, 8), (5, 9)]);
    assert!(matches!(
        landing.begin_parts("nope"),
        Err(AppendError::UnknownStream(_))
    ));
    landing.shutdown().await;
    assert!(matches!(
        landing.begin_parts("s"),
        Err(AppendError::ShuttingDown)
    ));
}

/// This process's open files that were created in `dir` (an `O_TMPFILE` file shows as
/// `{dir}/#{inode} (deleted)`).
fn open_files_in(dir: &Path) -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target.parent() == Some(dir))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_it_gives_the_spool_bytes_back_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let landing = start(dir.path(), StreamConfig::new("s"), 64 << 20);
    let stream_dir = dir.path().join("spool").join("s");
    let names = || {
        let mut v: Vec<_> = std::fs::read_dir(&stream_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        v.sort();
        v
    };
    let stream_dir = stream_dir.canonicalize().unwrap();
    // The writer has made its files (the key ledger) once it answers a flush.
    landing.flush().await;
    let (files, used, open) = (names(), landing.spool_bytes(), open_files_in(&stream_dir));
    let mut parts = landing.begin_parts("s").unwrap();
    let (a, b) = (batch(0..50, 100), batch(50..60, 100));
    let reserved = (a.packed_len() + b.packed_len() + 2 * 8) as u64;
    parts.push(a).await.unwrap();
    parts.push(b).await.unwrap();
    assert_eq!(landing.spool_bytes(), used + reserved, "reserved at push");
    assert_eq!(
        open_files_in(&stream_dir),
        open + 1,
        "the parts' file is open"
    );
    drop(parts);
    assert_eq!(landing.spool_bytes(), used, "given back on drop");
    assert_eq!(names(), files, "no file left in the stream folder");
    let deadline = Instant::now() + Duration::from_secs(10);
    while open_files_in(&stream_dir) > open {
        assert!(Instant::now() < deadline, "the parts' file is closed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    landing.flush().await;
    assert!(landed(dir.path()).0.is_empty(), "nothing of it lands");
    landing.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_spool_refuses_a_push_as_it_refuses_an_append() {
    let dir = tempfile::tempdir().unwrap();
    let landing = start(dir.path(), StreamConfig::new("s"), 16 << 10);
    let mut parts = landing.begin_parts("s").unwrap();
    parts.push(batch(0..10, 1000)).await.unwrap();
    let used = landing.spool_bytes();
    let refused = parts.push(batch(10..20, 1000)).await.unwrap_err();
    let appended = landing.append("s", batch(10..20, 1000)).await.unwrap_err();
    for e in [&refused, &appended] {
        assert!(
            matches!(e, AppendError::SpoolFull { max, .. } if *max == 16 << 10),
            "{e:?}"
        );
        assert!(e.is_retryable());
    }
    assert_eq!(
        refused.to_string(),
        appended.to_string(),
        "the same refusal"
    );
    assert_eq!(
        landing.spool_bytes(),
        used,
        "nothing reserved for the refused part"
    );
    assert_eq!(parts.records(), 10);
    // The append goes on without the refused part.
    let r = parts.commit(batch(20..21, 0)).await.unwrap();
    assert_eq!((r.first_seq, r.records), (1, 11));
    landing.flush().await;
    let ids: Vec<u64> = landed(dir.path()).0.iter().map(|(_, id)| *id).collect();
    assert_eq!(ids, (0..10).chain([20]).collect::<Vec<_>>());
    landing.shutdown().await;
}
