//! FlowFiles landed whole with their sidecar (`Landing::put_with_sidecar`) on a real local
//! sink: both objects land, the content first, and with a Snowpipe notifier on the stream only
//! the sidecar is queued for `insertFiles` (a dead letter's not at all).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use landing::notify::{NotifyQueue, SnowpipeConfig};
use landing::passthrough::{Area, flowfile_key, sidecar_key};
use landing::sink::LocalSink;
use landing::{Landing, LandingConfig, StreamConfig};

#[tokio::test]
async fn content_and_sidecar_land_and_only_the_sidecar_is_notified() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let key = testkit::keys::rsa_key();
    let key_path = dir.join("k.p8");
    std::fs::write(&key_path, key.private_pem).unwrap();
    let mut files = StreamConfig::new("files");
    files.prefix = "raw".into();
    // A pipe nobody answers: what is queued stays queued.
    let mut pipe = SnowpipeConfig::new("acct", "loader", &key_path, "DB.RAW.FILES_PIPE");
    pipe.url = Some("http://127.0.0.1:9".into());
    pipe.strip_prefix = "raw".into();
    files.snowpipe = Some(pipe);
    let landing = Landing::start(
        LandingConfig {
            spool_dir: dir.join("spool"),
            instance: "ps".into(),
            spool_max_bytes: 1 << 20,
            streams: vec![files],
        },
        Arc::new(LocalSink::new(dir.join("landing")).unwrap()),
    )
    .unwrap();

    let at = chrono::Utc::now();
    let content = Bytes::from_static(b"%PDF\x00\xff whole");
    let http = flowfile_key(Area::Http, at, "u-1", Some("a.pdf"));
    let landed = landing
        .put_with_sidecar("files", &http, content.clone(), Bytes::from("{}\n"), true)
        .await
        .unwrap();
    assert_eq!(landed, format!("raw/files/{http}"));
    let root = dir.join("landing");
    assert_eq!(std::fs::read(root.join(&landed)).unwrap(), content);
    assert_eq!(
        std::fs::read(root.join(sidecar_key(&landed))).unwrap(),
        b"{}\n"
    );
    let dead = flowfile_key(Area::DeadLetter, at, "u-2", None);
    landing
        .put_with_sidecar("files", &dead, content, Bytes::from("{}\n"), false)
        .await
        .unwrap();
    assert!(
        root.join(sidecar_key(&format!("raw/files/{dead}")))
            .exists()
    );

    tokio::time::timeout(Duration::from_secs(20), landing.shutdown())
        .await
        .expect("shutdown within 20 s");
    drop(landing);
    let queue = NotifyQueue::open(&dir.join("spool/files/snowpipe.queue")).unwrap();
    let queued = queue.peek(10);
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert!(
        queued[0].ends_with(&sidecar_key(&http)),
        "the sidecar is notified, not the content: {queued:?}"
    );
}
