//! S3 sink against a real in-process S3 server (s3s + s3s-fs on 127.0.0.1, SigV4 auth).

use std::net::SocketAddr;

use bytes::Bytes;
use landing::sink::{S3Sink, S3SinkConfig, Sink};

use testkit::{S3_ACCESS_KEY as ACCESS_KEY, S3_SECRET_KEY as SECRET_KEY, TestS3};

const BUCKET: &str = "landing";
const MIB: usize = 1024 * 1024;

fn config(addr: SocketAddr) -> S3SinkConfig {
    S3SinkConfig {
        endpoint_url: Some(format!("http://{addr}")),
        force_path_style: true,
        max_attempts: 2,
        ..S3SinkConfig::new(BUCKET)
    }
}

fn sink(cfg: S3SinkConfig) -> S3Sink {
    S3Sink::with_static_credentials(cfg, ACCESS_KEY, SECRET_KEY).unwrap()
}

/// Deterministic bytes that differ from offset to offset.
fn pattern(len: usize, seed: u32) -> Vec<u8> {
    let mut state = seed.wrapping_mul(2_654_435_761) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect()
}

async fn get(sink: &S3Sink, key: &str) -> Vec<u8> {
    let out = sink
        .client()
        .get_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .unwrap();
    out.body.collect().await.unwrap().into_bytes().to_vec()
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("store").join(BUCKET)).unwrap();
    dir
}

#[tokio::test]
async fn small_put_file_and_put_bytes_round_trip() {
    let dir = setup();
    let server = TestS3::start(&dir.path().join("store"), "127.0.0.1:0".parse().unwrap()).await;
    let sink = sink(config(server.addr));
    assert_eq!(sink.describe(), "s3://landing");

    let key = "customers/dt=2026-11-24/hh=13/ss-1-00000000000000000001.ndjson.zst";
    let content = pattern(200_000, 7);
    let source = dir.path().join("batch");
    std::fs::write(&source, &content).unwrap();
    sink.put_file(key, &source).await.unwrap();
    assert_eq!(get(&sink, key).await, content);
    // s3s-fs keeps objects as plain files: check what landed on disk too.
    let on_disk = dir.path().join("store").join(BUCKET).join(key);
    assert_eq!(std::fs::read(on_disk).unwrap(), content);

    let manifest = format!("{key}.manifest.json");
    sink.put_bytes(&manifest, Bytes::from_static(b"{\"records\":1}"))
        .await
        .unwrap();
    assert_eq!(get(&sink, &manifest).await, b"{\"records\":1}");

    let empty = dir.path().join("empty");
    std::fs::write(&empty, b"").unwrap();
    sink.put_file("customers/empty", &empty).await.unwrap();
    assert_eq!(get(&sink, "customers/empty").await, b"");
    server.stop().await;
}

#[tokio::test]
async fn large_file_goes_up_as_multipart_upload() {
    let dir = setup();
    let server = TestS3::start(&dir.path().join("store"), "127.0.0.1:0".parse().unwrap()).await;
    // 5 MiB is the smallest part S3 (and s3s-fs) accepts: 12 MiB + 3 bytes makes three parts.
    let sink = sink(S3SinkConfig {
        multipart_threshold: MIB as u64,
        part_size: 5 * MIB as u64,
        ..config(server.addr)
    });
    let content = pattern(12 * MIB + 3, 11);
    let source = dir.path().join("big");
    std::fs::write(&source, &content).unwrap();
    let key = "orders/dt=2026-11-24/hh=00/ss-1-00000000000000000042.ndjson.zst";
    sink.put_file(key, &source).await.unwrap();

    let head = sink
        .client()
        .head_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(content.len() as i64));
    // A multipart object's ETag is "<md5 of part md5s>-<part count>".
    let etag = head
        .e_tag()
        .unwrap_or_default()
        .trim_matches('"')
        .to_owned();
    assert!(
        etag.ends_with("-3"),
        "ETag {etag} is not that of a 3-part upload"
    );
    assert!(get(&sink, key).await == content, "content differs");
    // No upload is left open.
    let open = sink
        .client()
        .list_multipart_uploads()
        .bucket(BUCKET)
        .send()
        .await;
    if let Ok(open) = open {
        assert!(open.uploads().is_empty(), "{:?}", open.uploads());
    }
    server.stop().await;
}

#[tokio::test]
async fn overwriting_a_key_replaces_the_object() {
    let dir = setup();
    let server = TestS3::start(&dir.path().join("store"), "127.0.0.1:0".parse().unwrap()).await;
    let sink = sink(S3SinkConfig {
        multipart_threshold: MIB as u64,
        part_size: 5 * MIB as u64,
        ..config(server.addr)
    });
    let key = "s/k.ndjson.zst";
    let big = pattern(6 * MIB, 3);
    let source = dir.path().join("big");
    std::fs::write(&source, &big).unwrap();
    sink.put_file(key, &source).await.unwrap();
    assert!(get(&sink, key).await == big);

    sink.put_bytes(key, Bytes::from_static(b"small now"))
        .await
        .unwrap();
    assert_eq!(get(&sink, key).await, b"small now");

    let other = pattern(100, 4);
    std::fs::write(&source, &other).unwrap();
    sink.put_file(key, &source).await.unwrap();
    assert_eq!(get(&sink, key).await, other);
    server.stop().await;
}

#[tokio::test]
async fn server_down_is_retryable_and_recovers_on_restart() {
    let dir = setup();
    let store = dir.path().join("store");
    let server = TestS3::start(&store, "127.0.0.1:0".parse().unwrap()).await;
    let addr = server.addr;
    let sink = sink(config(addr));
    let source = dir.path().join("f");
    std::fs::write(&source, b"{\"a\":1}\n").unwrap();
    sink.put_file("s/one", &source).await.unwrap();

    server.stop().await;
    let err = sink.put_file("s/two", &source).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("s3://landing") && text.contains("\"s/two\""),
        "{text}"
    );
    let err = sink
        .put_bytes("s/two.manifest.json", Bytes::from_static(b"{}"))
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");

    let server = TestS3::start(&store, addr).await;
    sink.put_file("s/two", &source).await.unwrap();
    assert_eq!(get(&sink, "s/two").await, b"{\"a\":1}\n");
    server.stop().await;
}

#[tokio::test]
async fn wrong_credentials_are_not_retryable() {
    let dir = setup();
    let server = TestS3::start(&dir.path().join("store"), "127.0.0.1:0".parse().unwrap()).await;
    let bad = S3Sink::with_static_credentials(config(server.addr), ACCESS_KEY, "wrong").unwrap();
    let err = bad
        .put_bytes("s/k", Bytes::from_static(b"x"))
        .await
        .unwrap_err();
    assert!(!err.is_retryable(), "{err}");

    let text = err.to_string();
    assert!(
        text.contains("s3://landing") && text.contains("PutObject"),
        "{text}"
    );
    // (s3s-fs creates a missing bucket's folder on PutObject, so "no such bucket" cannot be
    // provoked here.)
    server.stop().await;
}

#[tokio::test]
async fn bad_keys_and_config_are_refused_before_any_request() {
    let sink = sink(config("127.0.0.1:9".parse().unwrap()));
    let err = sink
        .put_bytes("../x", Bytes::from_static(b"x"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("invalid sink key"), "{err}");
    assert!(!err.is_retryable());

    let err = S3Sink::with_static_credentials(S3SinkConfig::new(""), "a", "b").unwrap_err();
    assert!(err.to_string().contains("no bucket"), "{err}");
    let err = S3Sink::with_static_credentials(
        S3SinkConfig {
            max_attempts: 0,
            ..S3SinkConfig::new("b")
        },
        "a",
        "b",
    )
    .unwrap_err();
    assert!(!err.is_retryable(), "{err}");
}
