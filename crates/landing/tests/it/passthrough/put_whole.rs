//! Pass-through puts (`Landing::put_whole`) on a real local sink: the key, key validation,
//! and a sink that is down.

use std::sync::Arc;

use landing::sink::LocalSink;
use landing::{AppendError, Landing, LandingConfig, StreamConfig};

type Switchable = Arc<testkit::SwitchableSink<LocalSink>>;

/// A landing service in a fresh temp dir whose local sink is up or down.
fn start(up: bool) -> (tempfile::TempDir, Landing, Switchable) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let sink = testkit::SwitchableSink::new(LocalSink::new(dir.join("landing")).unwrap(), up);
    let mut files = StreamConfig::new("files");
    files.prefix = "raw/in".into();
    let landing = Landing::start(
        LandingConfig {
            spool_dir: dir.join("spool"),
            instance: "pw".into(),
            spool_max_bytes: 1 << 20,
            streams: vec![files, StreamConfig::new("plain")],
        },
        sink.clone(),
    )
    .unwrap();
    (tmp, landing, sink)
}

/// Puts `body` whole under `key` in the "files" stream.
async fn put_file(
    landing: &Landing,
    key: &str,
    body: &bytes::Bytes,
) -> Result<String, AppendError> {
    landing.put_whole("files", key, body.clone()).await
}

#[tokio::test]
async fn lands_the_body_unchanged_under_prefix_stream_and_key() {
    let (dir, landing, _sink) = start(true);
    let body = bytes::Bytes::from_static(b"not,records\xff\x00");
    let key = put_file(&landing, "a/b/c.bin", &body).await.unwrap();
    assert_eq!(key, "raw/in/files/a/b/c.bin");
    assert_eq!(
        std::fs::read(dir.path().join("landing").join(&key)).unwrap(),
        body
    );
    let key = landing
        .put_whole("plain", "x.csv", body.clone())
        .await
        .unwrap();
    assert_eq!(key, "plain/x.csv");
    // Nothing went through the spool.
    assert_eq!(landing.spool_bytes(), 0);

    for bad in ["a/../b", "a//b", "", "dir/"] {
        let e = put_file(&landing, bad, &body).await.unwrap_err();
        assert!(matches!(e, AppendError::InvalidKey(_)), "{bad:?}: {e}");
    }
    assert!(matches!(
        landing.put_whole("nope", "k", body).await,
        Err(AppendError::UnknownStream(_))
    ));
}

#[tokio::test]
async fn a_sink_that_stays_down_is_a_retryable_error() {
    let (dir, landing, sink) = start(false);
    let body = bytes::Bytes::from_static(b"payload");
    let e = put_file(&landing, "k.txt", &body).await.unwrap_err();
    assert!(
        matches!(
            e,
            AppendError::Sink {
                retryable: true,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("sink down"), "{e}");
    assert!(!dir.path().join("landing/raw/in/files/k.txt").exists());
    let files = |landing: &Landing| {
        let status = landing.status();
        let s = status.streams.iter().find(|s| s.name == "files").unwrap();
        (
            s.files_landed,
            s.bytes_landed,
            s.last_landed_ms,
            s.recent_files.clone(),
        )
    };
    // A put that failed landed nothing, for the status page and the staleness monitor too.
    assert_eq!(files(&landing).0, 0);
    assert_eq!(files(&landing).2, None);
    sink.set_up(true);
    landing.put_whole("files", "k.txt", body).await.unwrap();
    assert!(dir.path().join("landing/raw/in/files/k.txt").exists());
    let (count, bytes, last, recent) = files(&landing);
    assert_eq!((count, bytes), (1, 7));
    assert!(last.is_some());
    assert_eq!(recent.len(), 1);
    assert_eq!(recent[0].key, "raw/in/files/k.txt");
    assert_eq!(recent[0].records, 0);
}
