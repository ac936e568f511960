//! Limits and load over real HTTP: 413 for over-size bodies (also gzip bombs), 503 with
//! Retry-After while the sink is down and the spool is full (then recovery with every
//! acknowledged record landed once), and many concurrent clients.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use crate::support::receiver::{
    self, NDJSON, Reply, TestServer, client, gzip, package, post_as, send,
};
use flowfile::Version;
use landing::StreamConfig;
use serde_json::json;

fn ndjson(ids: impl IntoIterator<Item = u64>) -> String {
    ids.into_iter()
        .map(|i| format!("{{\"id\":{i}}}\n"))
        .collect()
}

async fn post_ndjson(s: &TestServer, body: impl Into<reqwest::Body>) -> Reply {
    post_as(s, NDJSON, &[], body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_size_bodies_are_413_and_land_nothing() {
    let limit = 1000u64;
    let s = TestServer::start_with(|setup| setup.server.max_request_bytes = limit).await;
    // A body of exactly the limit is fine; one byte more is not.
    let line = "{\"id\":1,\"pad\":\"\"}\n";
    let mut exact = line.repeat(limit as usize / line.len());
    let pad = limit as usize - exact.len();
    exact.insert_str(15, &"x".repeat(pad));
    assert_eq!(exact.len() as u64, limit);
    let mut over = exact.clone();
    over.insert(15, 'x');

    let r = post_ndjson(&s, over.clone()).await;
    assert_eq!(r.status, 413, "{}", r.text);
    assert_eq!(
        r.text,
        "request body is over the 1000-byte limit (after decompression)\n"
    );
    // The limit applies after decompression: a small gzip bomb is refused too.
    let bomb_plain = "{\"id\":1}\n".repeat(200_000);
    let bomb = gzip(bomb_plain.as_bytes());
    assert!((bomb.len() as u64) < 10 * limit && bomb_plain.len() as u64 > 1000 * limit);
    let r = post_as(&s, NDJSON, &[("content-encoding", "gzip")], bomb).await;
    assert_eq!(r.status, 413, "{}", r.text);
    let small_gzip_of_big_body = gzip(over.as_bytes());
    assert!((small_gzip_of_big_body.len() as u64) < limit);
    let r = post_as(
        &s,
        NDJSON,
        &[("flowfile-gzipped", "true")],
        small_gzip_of_big_body,
    )
    .await;
    assert_eq!(r.status, 413, "{}", r.text);
    // Packages count their whole body.
    let pkg = package(
        Version::V3,
        &[(&[("filename", "big.json")], over.as_bytes())],
    );
    let r = post_as(&s, Version::V3.mime(), &[], pkg).await;
    assert_eq!(r.status, 413, "{}", r.text);
    assert!(s.landed().await.is_empty());

    // A body of exactly the limit passes the body check, but its records expand past the
    // same limit once landed (attributes and metadata on every line): 413 naming it.
    let r = post_ndjson(&s, exact.clone()).await;
    assert_eq!(r.status, 413, "{}", r.text);
    assert!(r.text.contains("--max-request-size"), "{}", r.text);
    let r = post_ndjson(&s, line).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.seqs(),
        Some((1, 1)),
        "refused requests used no sequence numbers"
    );
    assert_eq!(s.landed().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_spool_is_503_until_the_sink_is_back_then_everything_lands_once() {
    let s = TestServer::start_with(|setup| {
        setup.spool_max_bytes = 4096;
        setup.sink_up = false;
        setup.server.retry_after_secs = 7;
        let mut customers = StreamConfig::new("customers");
        customers.max_records = 6; // seal batches often, so the lander is busy retrying
        setup.streams = vec![customers];
    })
    .await;
    let mut acked: Vec<u64> = Vec::new();
    let mut refused = None;
    for req in 0..500u64 {
        let ids: Vec<u64> = (req * 3..req * 3 + 3).collect();
        let r = post_ndjson(&s, ndjson(ids.clone())).await;
        match r.status {
            200 => acked.extend(ids),
            503 => {
                refused = Some(r);
                break;
            }
            other => panic!("unexpected {other}: {}", r.text),
        }
    }
    let refused = refused.expect("503 once the spool is full");
    assert_eq!(refused.header("retry-after"), Some("7"));
    assert!(refused.text.contains("spool is full"), "{}", refused.text);
    assert!(!acked.is_empty(), "some requests fit before the limit");
    // Still refusing while the sink is down; the healthcheck stays 200 (the process is alive).
    let r = post_ndjson(&s, ndjson([100_000])).await;
    assert_eq!(r.status, 503, "{}", r.text);
    let r = send(s.client.get(s.url("/healthcheck"))).await;
    assert_eq!(r.status, 200);
    assert!(r.text.starts_with("OK"), "{}", r.text);
    // Nothing has reached the sink.
    assert!(receiver::read_landed(s.landing_dir()).is_empty());

    s.sink.set_up(true);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = post_ndjson(&s, ndjson([200_000])).await;
        if r.status == 200 {
            acked.push(200_000);
            break;
        }
        assert_eq!(r.status, 503, "{}", r.text);
        assert!(Instant::now() < deadline, "spool never drained");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let landed = s.landed().await;
    let mut ids: Vec<u64> = landed
        .iter()
        .map(|l| l.record["id"].as_u64().unwrap())
        .collect();
    ids.sort_unstable();
    acked.sort_unstable();
    assert_eq!(
        ids, acked,
        "every acknowledged record exactly once, nothing else"
    );
    let seqs: Vec<u64> = landed.iter().map(|l| l.seq()).collect();
    assert_eq!(seqs, (1..=acked.len() as u64).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_clients_every_acknowledged_record_lands_exactly_once() {
    const CLIENTS: u64 = 16;
    const REQUESTS: u64 = 50;
    let s = TestServer::start_with(|setup| {
        let mut customers = StreamConfig::new("customers");
        customers.max_records = 97; // many files, cut mid-request
        let mut orders = StreamConfig::new("orders");
        orders.max_records = 150;
        setup.streams = vec![customers, orders];
    })
    .await;
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let url = s.url(if c % 2 == 0 {
            "/contentListener"
        } else {
            "/contentListener/orders"
        });
        tasks.push(tokio::spawn(async move {
            let http = client(); // its own connection pool: a separate client
            let mut acked = Vec::new();
            for r in 0..REQUESTS {
                let n = r % 3 + 1;
                let ids: Vec<u64> = (0..n).map(|k| c * 1_000_000 + r * 10 + k).collect();
                let body = ndjson(ids.clone());
                let reply = send(
                    http.post(&url)
                        .header("content-type", "application/x-ndjson")
                        .body(body),
                )
                .await;
                assert_eq!(reply.status, 200, "client {c} request {r}: {}", reply.text);
                let (a, b) = reply.seqs().expect("seq range");
                assert_eq!(b - a + 1, n);
                acked.push((a, ids));
            }
            (c, acked)
        }));
    }
    // (stream, first seq) -> ids that request carried
    let mut expected: BTreeMap<(&str, u64), Vec<u64>> = BTreeMap::new();
    for t in tasks {
        let (c, acked) = t.await.expect("client task");
        let stream = if c % 2 == 0 { "customers" } else { "orders" };
        for (first, ids) in acked {
            assert!(
                expected.insert((stream, first), ids).is_none(),
                "two requests got seq {first} in {stream}"
            );
        }
    }
    let landed = s.landed().await;
    let files: HashSet<&str> = landed.iter().map(|l| l.key.as_str()).collect();
    assert!(files.len() > 4, "batches were cut into several files");
    for stream in ["customers", "orders"] {
        let lines: Vec<_> = landed.iter().filter(|l| l.stream() == stream).collect();
        let want: u64 = expected
            .iter()
            .filter(|((st, _), _)| *st == stream)
            .map(|(_, ids)| ids.len() as u64)
            .sum();
        assert_eq!(
            lines.iter().map(|l| l.seq()).collect::<Vec<_>>(),
            (1..=want).collect::<Vec<_>>(),
            "{stream}: seq unique and contiguous"
        );
        let mut ids: Vec<u64> = lines
            .iter()
            .map(|l| l.record["id"].as_u64().unwrap())
            .collect();
        ids.sort_unstable();
        let before = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), before, "{stream}: a record landed twice");
    }
    // Each acknowledged request's records sit at exactly the seqs it was told, in order.
    let by_seq: HashMap<(&str, u64), &receiver::Landed> =
        landed.iter().map(|l| ((l.stream(), l.seq()), l)).collect();
    for ((stream, first), ids) in &expected {
        for (k, id) in ids.iter().enumerate() {
            let seq = first + k as u64;
            let line = by_seq
                .get(&(*stream, seq))
                .unwrap_or_else(|| panic!("{stream} seq {seq} missing"));
            assert_eq!(line.record, json!({ "id": id }), "{stream} seq {seq}");
        }
    }
    let total: usize = expected.values().map(Vec::len).sum();
    assert_eq!(landed.len(), total);
    assert_eq!(
        total as u64,
        CLIENTS * (0..REQUESTS).map(|r| r % 3 + 1).sum::<u64>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_shutdown_requests_are_503_and_everything_before_landed() {
    let s = TestServer::start_with(|setup| setup.server.retry_after_secs = 3).await;
    let r = post_ndjson(&s, ndjson([1, 2])).await;
    assert_eq!(r.status, 200, "{}", r.text);
    tokio::time::timeout(Duration::from_secs(20), s.landing.shutdown())
        .await
        .expect("shutdown finished");
    // Landed by shutdown itself, without a flush.
    let landed = receiver::read_landed(s.landing_dir());
    assert_eq!(
        landed.iter().map(|l| l.record.clone()).collect::<Vec<_>>(),
        vec![json!({"id":1}), json!({"id":2})]
    );
    let r = post_ndjson(&s, ndjson([3])).await;
    assert_eq!(r.status, 503, "{}", r.text);
    assert_eq!(r.header("retry-after"), Some("3"));
    assert_eq!(r.text, "snowstream is shutting down\n");
    assert_eq!(receiver::read_landed(s.landing_dir()).len(), 2);
}
