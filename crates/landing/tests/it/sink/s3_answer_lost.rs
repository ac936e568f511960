//! A PutObject whose answer never comes (issue 22, item 4): the request reaches S3 and the
//! object is stored, but the answer is lost (a stalled connection, a load balancer that went
//! quiet). The attempt times out as retryable, the retry finds the key taken (412 from
//! `If-None-Match: *`) with the same bytes, and the batch counts as landed: every record
//! once, measured on what landed, and the stream keeps landing afterwards.
//!
//! The S3 server is s3s-fs (`testkit::TestS3`); between it and the sink a TCP relay forwards
//! every request, and drops the answers on the first connections it relays.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use landing::sink::{S3Sink, S3SinkConfig};
use landing::{Landing, LandingConfig, StreamConfig};
use records::Batch;
use testkit::{S3_ACCESS_KEY, S3_SECRET_KEY, TestS3};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

const BUCKET: &str = "landing";
/// Connections whose answers the relay drops.
const SILENT: usize = 2;

/// Relays `127.0.0.1:<port>` to `upstream`; on the first [`SILENT`] connections the answers
/// are read and dropped, and the client's socket is kept open, never answered.
async fn relay(upstream: SocketAddr) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut server = TcpStream::connect(upstream).await.unwrap();
                if n >= SILENT {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    return;
                }
                let (mut client_rx, _client_tx) = client.split();
                let (mut server_rx, mut server_tx) = server.split();
                let mut sink = Vec::new();
                let forward = tokio::io::copy(&mut client_rx, &mut server_tx);
                let swallow = server_rx.read_to_end(&mut sink);
                let _ = tokio::join!(forward, swallow);
            });
        }
    });
    (addr, accepted)
}

fn batch(ids: std::ops::Range<u64>) -> Batch {
    let mut b = Batch::new(chrono::Utc::now());
    b.begin_group(&[("filename", "f")]);
    for i in ids {
        b.push_record(format!(r#"{{"id":{i}}}"#).as_bytes());
    }
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_whose_answer_is_lost_lands_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("s3");
    std::fs::create_dir_all(root.join(BUCKET)).unwrap();
    let s3 = TestS3::start(&root, "127.0.0.1:0".parse().unwrap()).await;
    let (relay_addr, accepted) = relay(s3.addr).await;
    let cfg = S3SinkConfig {
        endpoint_url: Some(format!("http://{relay_addr}")),
        force_path_style: true,
        max_attempts: 3,
        attempt_timeout: Duration::from_millis(700),
        ..S3SinkConfig::new(BUCKET)
    };
    let sink =
        Arc::new(S3Sink::with_static_credentials(cfg, S3_ACCESS_KEY, S3_SECRET_KEY).unwrap());
    let mut stream = StreamConfig::new("customers");
    stream.max_records = 50;
    let config = LandingConfig {
        spool_dir: dir.path().join("spool"),
        instance: "test-1".into(),
        spool_max_bytes: 64 << 20,
        streams: vec![stream],
    };
    let landing = Landing::start(config, sink).unwrap();
    for r in 0..6u64 {
        landing
            .append("customers", batch(r * 25..r * 25 + 25))
            .await
            .unwrap();
    }
    landing.flush().await;
    let failed = tokio::time::timeout(Duration::from_secs(60), landing.shutdown())
        .await
        .expect("landing does not stall on a lost answer");
    assert!(failed.is_empty(), "{failed:?}");
    assert!(
        accepted.load(Ordering::SeqCst) > SILENT,
        "the sink went on after the silent connections"
    );

    let mut seen: HashMap<u64, usize> = HashMap::new();
    for line in testkit::landed_lines(&root.join(BUCKET)) {
        *seen
            .entry(line["record"]["id"].as_u64().unwrap())
            .or_default() += 1;
    }
    assert_eq!(seen.len(), 150, "every acknowledged record landed");
    assert!(seen.values().all(|n| *n == 1), "none twice: {seen:?}");
    let files = testkit::landed_files(&root.join(BUCKET));
    assert_eq!(
        files.len(),
        3,
        "three batches of 50, one file each: {files:?}"
    );
    s3.stop().await;
}
