//! S3 sink against a real in-process S3 server (s3s + s3s-fs on 127.0.0.1, SigV4 auth). Runs
//! the sink conformance suite, then what only S3 does (multipart uploads, an unreachable or
//! refusing server, S3 settings).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use landing::sink::{Put, S3Sink, S3SinkConfig, Sink};
use testkit::{S3_ACCESS_KEY as ACCESS_KEY, S3_SECRET_KEY as SECRET_KEY, TestS3};

use crate::support::{conformance, pattern};

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

/// Parts of 5 MiB (the smallest S3 and s3s-fs accept) from 1 MiB on.
fn multipart(addr: SocketAddr) -> S3SinkConfig {
    S3SinkConfig {
        multipart_threshold: MIB as u64,
        part_size: 5 * MIB as u64,
        staged_part_size: 5 * MIB as u64,
        ..config(addr)
    }
}

fn sink(cfg: S3SinkConfig) -> S3Sink {
    S3Sink::with_static_credentials(cfg, ACCESS_KEY, SECRET_KEY).unwrap()
}

/// The object at `key`, if the server has one.
async fn try_get(sink: &S3Sink, key: &str) -> Option<Vec<u8>> {
    let out = sink
        .client()
        .get_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .ok()?;
    Some(out.body.collect().await.unwrap().into_bytes().to_vec())
}

async fn get(sink: &S3Sink, key: &str) -> Vec<u8> {
    try_get(sink, key).await.expect("the object exists")
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("store").join(BUCKET)).unwrap();
    dir
}

/// A fresh server storing under `<dir>/store`, on any free port.
async fn serve(dir: &tempfile::TempDir) -> TestS3 {
    TestS3::start(&dir.path().join("store"), "127.0.0.1:0".parse().unwrap()).await
}

/// An S3 sink on a fresh in-process server storing under `<temp>/store`, with `<temp>` as
/// scratch space.
struct S3 {
    dir: tempfile::TempDir,
    server: TestS3,
    sink: S3Sink,
}

impl S3 {
    async fn start(cfg: impl FnOnce(SocketAddr) -> S3SinkConfig) -> S3 {
        let dir = setup();
        let server = serve(&dir).await;
        let sink = sink(cfg(server.addr));
        S3 { dir, server, sink }
    }

    /// Where s3s-fs keeps the bucket's objects as plain files.
    fn bucket_dir(&self) -> PathBuf {
        self.dir.path().join("store").join(BUCKET)
    }

    async fn stop(self) {
        self.server.stop().await;
    }
}

impl conformance::Backend for S3 {
    type Sink = S3Sink;
    fn sink(&self) -> &S3Sink {
        &self.sink
    }
    fn scratch(&self) -> &Path {
        self.dir.path()
    }
    async fn read(&self, key: &str) -> Option<Vec<u8>> {
        try_get(&self.sink, key).await
    }
    async fn keys(&self) -> Vec<String> {
        let listed = self
            .sink
            .client()
            .list_objects_v2()
            .bucket(BUCKET)
            .send()
            .await
            .unwrap();
        assert_ne!(
            listed.is_truncated(),
            Some(true),
            "more keys than a test puts"
        );
        let mut keys: Vec<String> = listed
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect();
        keys.sort();
        keys
    }
}

/// Tests that each run one conformance check against a fresh server with the plain config.
macro_rules! conformance_tests {
    ($($check:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $check() {
            let b = S3::start(config).await;
            conformance::$check(&b).await;
            b.stop().await;
        }
    )*};
}

conformance_tests!(
    put_bytes_round_trips,
    empty_file_round_trips,
    neighbouring_keys_stay_apart,
    refuses_bad_keys_without_storing_anything,
);

#[tokio::test]
async fn small_put_file_round_trips_and_lands_as_a_plain_file() {
    let b = S3::start(config).await;
    assert_eq!(b.sink.describe(), "s3://landing");
    conformance::put_file_copies_byte_for_byte(&b, 200_000).await;
    // s3s-fs keeps objects as plain files: check what landed on disk too.
    let on_disk = std::fs::read(b.bucket_dir().join(conformance::KEY)).unwrap();
    assert!(on_disk == pattern(200_000, 1), "on-disk content differs");
    b.stop().await;
}

/// s3s-fs enforces `If-None-Match: *` on PutObject and CompleteMultipartUpload (412), as
/// Amazon S3 does ("Conditional writes", S3 User Guide): the conditional put is checked
/// against a server that refuses it, not against our own reading of the header.
#[tokio::test]
async fn never_replaces_an_object() {
    // The big file goes up as a multipart upload, the rest as single puts.
    let b = S3::start(multipart).await;
    conformance::never_replaces_an_object(&b, 6 * MIB).await;
    b.stop().await;
}

/// Staged bodies: 12 MiB in parts of 5 MiB is a multipart upload completed with
/// `If-None-Match: *` (refused over an existing object, and its parts dropped), 5 bytes a
/// single PutObject. No upload is left open.
#[tokio::test]
async fn staged_put_lands_whole_at_commit_and_never_replaces() {
    let b = S3::start(multipart).await;
    conformance::staged_put_lands_whole_at_commit_and_never_replaces(&b, 12 * MIB + 3).await;
    let head = b
        .sink
        .client()
        .head_object()
        .bucket(BUCKET)
        .key(conformance::KEY);
    let head = head.send().await.unwrap();
    let etag = head
        .e_tag()
        .unwrap_or_default()
        .trim_matches('"')
        .to_owned();
    assert!(
        etag.ends_with("-3"),
        "ETag {etag} is not that of a 3-part upload"
    );
    // The dropped staging's abort runs in the background.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(open_uploads(&b.dir), Vec::<String>::new());
    b.stop().await;
}

/// The server stops while a staged body is half uploaded: the write fails as retryable,
/// nothing appears under the key, and a new staging after the restart lands it once.
#[tokio::test]
async fn a_staged_put_cut_off_mid_stream_lands_nothing_then_lands_once() {
    let dir = setup();
    let store = dir.path().join("store");
    let server = TestS3::start(&store, "127.0.0.1:0".parse().unwrap()).await;
    let addr = server.addr;
    let sink = sink(multipart(addr));
    let key = conformance::KEY;
    let content = pattern(13 * MIB, 21);
    let mut staged = sink.stage(key).await.unwrap();
    conformance::write_in_chunks(&mut staged, &content[..6 * MIB]).await;
    assert_eq!(open_uploads(&dir).len(), 1, "the first part is up");
    server.stop().await;
    let mut failed = None;
    for chunk in content[6 * MIB..].chunks(MIB) {
        if let Err(e) = staged.write(Bytes::copy_from_slice(chunk)).await {
            failed = Some(e);
            break;
        }
    }
    let err = failed.expect("a part upload to a stopped server fails");
    assert!(err.is_retryable(), "{err}");
    staged.abort().await;

    let server = TestS3::start(&store, addr).await;
    assert_eq!(
        try_get(&sink, key).await,
        None,
        "a partial object is visible"
    );
    let mut again = sink.stage(key).await.unwrap();
    conformance::write_in_chunks(&mut again, &content).await;
    let put = landing::sink::commit(&sink, again).await.unwrap();
    assert_eq!(put, Put::Created);
    assert!(get(&sink, key).await == content, "content differs");
    // (The first upload stays open: its abort could not reach the stopped server, as on S3
    // until a lifecycle rule for incomplete uploads removes it.)
    server.stop().await;
}

/// Uploads s3s-fs holds open (its `.upload-<id>.json` files in the store's root).
fn open_uploads(dir: &tempfile::TempDir) -> Vec<String> {
    std::fs::read_dir(dir.path().join("store"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".upload-"))
        .collect()
}

/// A server that takes the connection and the request and never answers: each attempt ends
/// at the attempt timeout with a retryable error, instead of stalling the stream for good.
#[tokio::test]
async fn a_put_that_never_gets_an_answer_times_out_as_retryable() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let sink = sink(S3SinkConfig {
        max_attempts: 2,
        attempt_timeout: std::time::Duration::from_millis(500),
        ..config(addr)
    });
    let started = std::time::Instant::now();
    let err = sink
        .put_bytes("s/k", Bytes::from_static(b"x"))
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    hold.abort();
}

#[tokio::test]
async fn missing_source_file_is_a_clear_permanent_error() {
    let b = S3::start(config).await;
    let text = conformance::missing_source_file_is_a_clear_permanent_error(&b).await;
    assert!(text.contains("s3://landing"), "{text}");
    b.stop().await;
}

#[tokio::test]
async fn large_file_goes_up_as_multipart_upload() {
    let dir = setup();
    let server = serve(&dir).await;
    // 5 MiB is the smallest part S3 (and s3s-fs) accepts: 12 MiB + 3 bytes makes three parts.
    let sink = sink(multipart(server.addr));
    let content = pattern(12 * MIB + 3, 11);
    let source = dir.path().join("big");
    std::fs::write(&source, &content).unwrap();
    let key = "orders/dt=2026-11-24/hh=00/ss-1-00000000000000000042.ndjson.zst";
    assert_eq!(sink.put_file(key, &source).await.unwrap(), Put::Created);

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
    // No upload is left open (s3s-fs's own record of open uploads, as the staged tests read
    // it: a failing ListMultipartUploads can no longer pass for an empty one).
    assert_eq!(open_uploads(&dir), Vec::<String>::new());
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
    assert_eq!(sink.put_file("s/one", &source).await.unwrap(), Put::Created);

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
    assert_eq!(sink.put_file("s/two", &source).await.unwrap(), Put::Created);
    assert_eq!(get(&sink, "s/two").await, b"{\"a\":1}\n");
    server.stop().await;
}

#[tokio::test]
async fn wrong_credentials_are_not_retryable() {
    let dir = setup();
    let server = serve(&dir).await;
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
