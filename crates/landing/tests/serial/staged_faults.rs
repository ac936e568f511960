//! A batch file that fails mid-stream (failpoint `sink-stage-write`: the sink refuses a chunk
//! of the local temp file, or a part of the S3 upload, after the first ones went through)
//! lands nothing partial: no object under its key while the failure lasts, no temp file or
//! open upload left; when it clears, the lander encodes it again and it lands exactly once.
//! Run against both backends: real files, and S3 in process (s3s-fs).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use landing::sink::{LocalSink, S3Sink, S3SinkConfig, Sink};
use landing::{Landing, LandingConfig, StreamConfig};
use records::Batch;
use testkit::{S3_ACCESS_KEY, S3_SECRET_KEY, TestS3};

const RECORDS: u64 = 2000;

/// `RECORDS` records of 8 KiB of random letters and digits (6 bits of entropy a byte: zstd
/// keeps ~3/4 of it), 16 MiB in all.
fn batch() -> Batch {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut b = Batch::new(chrono::Utc::now());
    b.begin_group(&[("filename", "f")]);
    for id in 0..RECORDS {
        let blob: String = (0..8192)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                ALPHABET[(state & 63) as usize] as char
            })
            .collect();
        b.push_record(format!(r#"{{"id":{id},"blob":"{blob}"}}"#).as_bytes());
    }
    b
}

fn start(spool: &Path, sink: Arc<dyn Sink>) -> Landing {
    Landing::start(
        LandingConfig {
            spool_dir: spool.to_owned(),
            instance: "sf".into(),
            spool_max_bytes: 256 << 20,
            streams: vec![StreamConfig::new("s")],
        },
        sink,
    )
    .unwrap()
}

/// The ids in a landed file's lines.
fn ids(file: &[u8]) -> Vec<u64> {
    let text = zstd::decode_all(file).unwrap();
    let mut ids: Vec<u64> = text
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_slice(l).unwrap();
            v["record"]["id"].as_u64().unwrap()
        })
        .collect();
    ids.sort_unstable();
    ids
}

/// Appends the batch with `sink-stage-write` failing after `ok_writes` writes, checks that
/// nothing lands while it fails (`visible` lists the objects a reader sees), then clears it
/// and lands; returns the landed data file's keys.
async fn fails_mid_stream_then_lands_once(
    spool: &Path,
    sink: Arc<dyn Sink>,
    ok_writes: u32,
    visible: impl AsyncFn() -> Vec<String>,
) {
    fail::cfg("sink-stage-write", &format!("{ok_writes}*off->return")).unwrap();
    let landing = start(spool, sink);
    landing.append("s", batch()).await.unwrap();
    let flushed = tokio::time::timeout(Duration::from_secs(3), landing.flush()).await;
    assert!(flushed.is_err(), "landed although every attempt failed");
    assert_eq!(visible().await, Vec::<String>::new(), "a partial object");

    fail::remove("sink-stage-write");
    tokio::time::timeout(Duration::from_secs(60), landing.flush())
        .await
        .expect("landed once the failure cleared");
    landing.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_a_batch_file_failing_mid_stream_lands_once() {
    let scenario = fail::FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("landing");
    let sink = Arc::new(LocalSink::new(&root).unwrap());
    let files = || async { testkit::landed_files(&root) };
    // Three chunks of the temp file go through, the fourth fails.
    fails_mid_stream_then_lands_once(&dir.path().join("spool"), sink, 3, || async {
        files()
            .await
            .iter()
            .map(|p| p.display().to_string())
            .collect()
    })
    .await;
    let landed = testkit::landed_files(&root);
    assert_eq!(landed.len(), 1, "{landed:?}");
    assert_eq!(
        ids(&std::fs::read(&landed[0]).unwrap()),
        (0..RECORDS).collect::<Vec<_>>()
    );
    let mut left = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            if e.path().is_dir() {
                dirs.push(e.path());
            } else {
                left.push(e.file_name().to_string_lossy().into_owned());
            }
        }
    }
    assert!(
        !left.iter().any(|n| n.contains(".tmp-")),
        "temp files left: {left:?}"
    );
    scenario.teardown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_a_batch_file_failing_mid_stream_lands_once() {
    let scenario = fail::FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    std::fs::create_dir_all(store.join("landing")).unwrap();
    let server = TestS3::start(&store, "127.0.0.1:0".parse().unwrap()).await;
    let cfg = S3SinkConfig {
        endpoint_url: Some(server.endpoint()),
        force_path_style: true,
        staged_part_size: 5 << 20,
        ..S3SinkConfig::new("landing")
    };
    let sink =
        Arc::new(S3Sink::with_static_credentials(cfg, S3_ACCESS_KEY, S3_SECRET_KEY).unwrap());
    let keys = {
        let sink = sink.clone();
        move || {
            let sink = sink.clone();
            async move {
                let listed = sink
                    .client()
                    .list_objects_v2()
                    .bucket("landing")
                    .send()
                    .await;
                let listed = listed.unwrap();
                listed
                    .contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned))
                    .collect::<Vec<_>>()
            }
        }
    };
    // The first 5 MiB part goes up, the second fails.
    fails_mid_stream_then_lands_once(&dir.path().join("spool"), sink.clone(), 1, &keys).await;
    let listed = keys().await;
    let data: Vec<_> = listed.iter().filter(|k| k.ends_with(".zst")).collect();
    assert_eq!(data.len(), 1, "{listed:?}");
    let got = sink.get(data[0]).await.unwrap().unwrap();
    assert_eq!(ids(&got), (0..RECORDS).collect::<Vec<_>>());
    let open: Vec<_> = std::fs::read_dir(&store)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".upload"))
        .collect();
    assert_eq!(open, Vec::<String>::new(), "uploads left open");
    server.stop().await;
    scenario.teardown();
}

/// After a crash between the put and the segment's delete, the batch lands again from the
/// spool and finds an object under its key (here without its manifest), read back in pieces:
/// the same lines in other bytes (another compression level, as another version would
/// encode them) are this batch: nothing more lands, and the manifest describes the object
/// there. Other lines are another batch's: this one lands beside it, under its own key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_re_land_tells_the_same_lines_in_other_bytes_from_another_batch() {
    use sha2::Digest;
    let scenario = fail::FailScenario::setup();
    for other_batch in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let (root, spool) = (dir.path().join("landing"), dir.path().join("spool"));
        let sink: Arc<dyn Sink> = Arc::new(LocalSink::new(&root).unwrap());
        fail::cfg("lander-landed", "panic").unwrap();
        let landing = start(&spool, sink.clone());
        for id in [1, 2] {
            landing
                .append("s", testkit::faults::id_batch(id))
                .await
                .unwrap();
        }
        landing.shutdown().await;
        drop(landing);
        fail::remove("lander-landed");

        let file = testkit::landed_files(&root)
            .pop()
            .expect("landed before the crash");
        let name = file.display().to_string();
        let mut lines = zstd::decode_all(&std::fs::read(&file).unwrap()[..]).unwrap();
        if other_batch {
            lines.extend_from_slice(b"{\"record\":{\"id\":99}}\n");
        }
        let there = zstd::encode_all(&lines[..], 19).unwrap();
        std::fs::remove_file(&file).unwrap();
        std::fs::remove_file(records::landed::manifest_key(&name)).unwrap();
        std::fs::write(&file, &there).unwrap();

        let landing = start(&spool, sink);
        tokio::time::timeout(Duration::from_secs(30), landing.flush())
            .await
            .expect("the batch lands again");
        landing.shutdown().await;
        let files = testkit::landed_files(&root);
        assert_eq!(
            std::fs::read(&file).unwrap(),
            there,
            "the object was replaced"
        );
        if other_batch {
            assert_eq!(files.len(), 2, "{files:?}");
            let own = files.iter().find(|f| **f != file).unwrap();
            assert!(own.display().to_string().contains("sf.x"), "{own:?}");
            let ids: Vec<u64> = ids(&std::fs::read(own).unwrap());
            assert_eq!(ids, [1, 2]);
        } else {
            assert_eq!(files, std::slice::from_ref(&file), "landed twice");
            let manifest: records::landed::Manifest = serde_json::from_slice(
                &std::fs::read(records::landed::manifest_key(&name)).unwrap(),
            )
            .unwrap();
            assert_eq!(manifest.sha256, hex::encode(sha2::Sha256::digest(&there)));
            assert_eq!(manifest.bytes, there.len() as u64);
            assert_eq!(manifest.records, 2);
        }
    }
    scenario.teardown();
}
