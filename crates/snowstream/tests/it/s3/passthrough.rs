//! Pass-through streams through the S3 front door with aws-sdk-s3: objects land whole and
//! unparsed under `{prefix}/{stream}/_passthrough/s3/{bucket}/{digest}/{key}`, the 200 only
//! once they are in the sink, and a sink that is down gives `503 SlowDown`. Their namespace
//! is their own: no key can overwrite a landed batch file or manifest, nor another bucket's
//! object, nor another upload of the same key.

use std::path::PathBuf;
use std::sync::Arc;

use crate::support::s3::*;
use aws_sdk_s3::error::ProvideErrorMetadata;
use landing::StreamConfig;
use landing::sink::LocalSink;
use server::s3::{BucketRoute, S3Config, S3Credential};
use server::{ServerConfig, StreamOptions};

type Switchable = testkit::SwitchableSink<LocalSink>;

/// Stream `blobs` (prefix `pt`, pass-through) behind buckets `files` and `files2`; stream `customers`
/// (parsed) behind bucket `raw`. The sink can be switched off.
async fn start_pass_through(up: bool) -> (S3Test, Arc<Switchable>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let sink =
        testkit::SwitchableSink::new(LocalSink::new(dir.path().join("landing")).unwrap(), up);
    let mut blobs = StreamConfig::new("blobs");
    blobs.prefix = "pt".into();
    let mut config = S3Config::new(dir.path().join("s3-uploads"));
    config.credentials = vec![S3Credential::parse(&format!("{AK}:{SK}")).unwrap()];
    config.routes = vec![
        BucketRoute::parse("files=blobs").unwrap(),
        BucketRoute::parse("files2=blobs").unwrap(),
        BucketRoute::parse("raw=customers").unwrap(),
    ];
    let mut server = ServerConfig::default();
    let pass_through = StreamOptions {
        pass_through: true,
        ..StreamOptions::default()
    };
    server.streams.insert("blobs".into(), pass_through);
    let streams = vec![StreamConfig::new("customers"), blobs];
    let t = start_app(dir, config, server, streams, 64 << 20, sink.clone()).await;
    (t, sink)
}

/// Where `body`, put to bucket `files` under `key`, lands.
fn landed_at(t: &S3Test, key: &str, body: &[u8]) -> PathBuf {
    landed_in(t, "files", key, body)
}

fn landed_in(t: &S3Test, bucket: &str, key: &str, body: &[u8]) -> PathBuf {
    t.landing_dir
        .join("pt/blobs")
        .join(landing::passthrough::s3_object_key(bucket, key, body))
}

/// Every file under the stream's pass-through folder.
fn passthrough_files(t: &S3Test) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![t.landing_dir.join("pt/blobs/_passthrough")];
    while let Some(dir) = dirs.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten() {
            let path = e.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

#[tokio::test]
async fn objects_land_whole_and_unparsed_under_their_own_key() {
    let (t, _sink) = start_pass_through(true).await;
    let c = t.client();
    // Not JSON, not CSV, not even UTF-8: a parsed stream would refuse it.
    let blob: Vec<u8> = b"{not json at all\n\xff\xfe\x00binary"
        .iter()
        .copied()
        .chain((0..=255u8).cycle().take(70_000))
        .collect();
    let out = put(&c, "files", "in/2026/report.json", blob.clone())
        .content_type("application/json")
        .send()
        .await
        .expect("pass-through put of a body that is not valid JSON");
    assert_eq!(
        out.e_tag(),
        Some(format!("\"{}\"", md5_hex(&blob)).as_str())
    );
    // The 200 came after the put to the sink: the object is there already, without a flush.
    let path = landed_at(&t, "in/2026/report.json", &blob);
    assert_eq!(std::fs::read(&path).expect("object landed"), blob);

    let ndjson = b"{\"id\":1}\n{\"id\":2}\n".to_vec();
    put(&c, "files", "two.ndjson", ndjson.clone())
        .send()
        .await
        .expect("pass-through put of NDJSON");
    assert_eq!(
        std::fs::read(landed_at(&t, "two.ndjson", &ndjson)).unwrap(),
        ndjson
    );

    // Nothing was parsed into records: no batch file lands for the pass-through stream.
    let lines = t.landed().await;
    assert!(lines.is_empty(), "records landed: {lines:?}");

    // The parsed stream next to it still parses (and still refuses bad JSON).
    let bad = put(&c, "raw", "x.json", b"{not json")
        .send()
        .await
        .expect_err("a parsed stream refuses invalid JSON");
    assert_eq!(bad.code(), Some("InvalidArgument"));
}

#[tokio::test]
async fn a_multipart_upload_lands_as_one_object() {
    let (t, _sink) = start_pass_through(true).await;
    let c = t.client();
    let key = "big/upload.bin";
    let id = create_upload(&c, "files", key).await;
    let bodies: Vec<Vec<u8>> = (0..3u8)
        .map(|n| vec![b'a' + n; 100_000 + n as usize])
        .collect();
    let parts = upload_parts(&c, "files", key, &id, bodies.iter().cloned()).await;
    let path = landed_at(&t, key, &bodies.concat());
    assert!(
        passthrough_files(&t).is_empty(),
        "nothing lands before the upload completes"
    );
    complete_upload(&c, "files", key, &id, parts)
        .send()
        .await
        .expect("complete");
    assert_eq!(std::fs::read(&path).unwrap(), bodies.concat());
    assert!(t.landed().await.is_empty(), "nothing parsed into records");
}

#[tokio::test]
async fn a_sink_that_is_down_gives_503_and_nothing_lands() {
    let (t, sink) = start_pass_through(false).await;
    let c = t.client();
    let body = b"col1;col2\n1;2\n".to_vec();
    let err = put(&c, "files", "down.csv", body.clone())
        .send()
        .await
        .expect_err("the sink is down");
    assert_eq!(status(&err), Some(503));
    assert_eq!(err.code(), Some("SlowDown"));
    let retry_after = retry_after(&err);
    assert_eq!(retry_after.as_deref(), Some("5"));
    assert!(!landed_at(&t, "down.csv", &body).exists());

    // The client's retry, once the sink is back, lands it.
    sink.set_up(true);
    put(&c, "files", "down.csv", body.clone())
        .send()
        .await
        .expect("put after the sink came back");
    assert_eq!(
        std::fs::read(landed_at(&t, "down.csv", &body)).unwrap(),
        body
    );
}

#[tokio::test]
async fn a_key_that_cannot_be_a_sink_key_is_refused() {
    let (t, _sink) = start_pass_through(true).await;
    let err = put(&t.client(), "files", "in//double-slash.txt", b"x")
        .send()
        .await
        .expect_err("an empty key segment cannot land");
    assert_eq!(status(&err), Some(400));
    assert_eq!(err.code(), Some("InvalidArgument"));
    assert!(
        err.message()
            .unwrap_or_default()
            .contains("cannot be landed"),
        "{:?}",
        err.message()
    );
    assert!(!t.landing_dir.join("pt").exists(), "nothing landed");

    // One key per line in the Snowpipe queue: a key with a newline cannot land either.
    let err = put(&t.client(), "files", "in/a\nb.txt", b"x")
        .send()
        .await
        .expect_err("a key with a newline cannot land");
    assert_eq!(status(&err), Some(400));
    assert!(
        err.message()
            .unwrap_or_default()
            .contains("control character"),
        "{:?}",
        err.message()
    );
    assert!(!t.landing_dir.join("pt").exists(), "nothing landed");
}

#[tokio::test]
async fn two_buckets_routed_to_one_stream_never_overwrite_each_other() {
    let (t, _sink) = start_pass_through(true).await;
    let c = t.client();
    put(&c, "files", "same/key.txt", b"from files".to_vec())
        .send()
        .await
        .expect("put to files");
    put(&c, "files2", "same/key.txt", b"from files2".to_vec())
        .send()
        .await
        .expect("put to files2");
    assert_eq!(
        std::fs::read(landed_in(&t, "files", "same/key.txt", b"from files")).unwrap(),
        b"from files"
    );
    assert_eq!(
        std::fs::read(landed_in(&t, "files2", "same/key.txt", b"from files2")).unwrap(),
        b"from files2"
    );
}

/// A second PutObject of one key with other bytes lands beside the first (each upload was
/// answered 200, so both reach the sink); the same upload repeated (a retry after a lost
/// answer) lands once.
#[tokio::test]
async fn two_uploads_of_one_key_both_land_and_a_repeat_lands_once() {
    let (t, _sink) = start_pass_through(true).await;
    let c = t.client();
    for body in [&b"version 1"[..], b"version 2", b"version 1"] {
        put(&c, "files", "in/a.csv", body.to_vec())
            .send()
            .await
            .expect("every upload is taken");
    }
    let files = passthrough_files(&t);
    assert_eq!(files.len(), 2, "{files:?}");
    for body in [&b"version 1"[..], b"version 2"] {
        assert_eq!(
            std::fs::read(landed_at(&t, "in/a.csv", body)).unwrap(),
            body
        );
    }
}

#[tokio::test]
async fn a_key_shaped_like_a_batch_file_or_manifest_stays_in_the_pass_through_namespace() {
    let (t, _sink) = start_pass_through(true).await;
    let c = t.client();
    // Exactly the keys (under the stream's folder) the lander gives a batch file and its
    // manifest (docs/architecture.md, contract 1).
    let batch = "dt=2026-11-24/hh=13/t1-00000000000000000001.ndjson.zst";
    let manifest = format!("{batch}.manifest.json");
    for key in [batch, manifest.as_str()] {
        put(&c, "files", key, b"not a batch".to_vec())
            .send()
            .await
            .expect("put a batch-shaped key");
        assert_eq!(
            std::fs::read(landed_in(&t, "files", key, b"not a batch")).unwrap(),
            b"not a batch"
        );
    }
    // Nothing was written where the stream's batch files and manifests live.
    let top: Vec<String> = std::fs::read_dir(t.landing_dir.join("pt/blobs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(top, ["_passthrough"], "only the pass-through namespace");
    assert!(!t.landing_dir.join("pt/blobs").join(batch).exists());
}
