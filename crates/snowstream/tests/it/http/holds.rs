//! Two-phase commit ("holds") as NiFi's PostHTTP uses it against ListenHTTP: a POST with
//! `x-prefer-acknowledge-uri: true` is answered 303 with a hold URI; its records land only
//! once that URI is DELETEd, and an unconfirmed hold is dropped after the hold timeout.

use std::time::{Duration, Instant};

use crate::support::receiver::{NDJSON, Reply, TestServer, post_as, records, send};
use serde_json::json;

async fn post_hold(s: &TestServer, path: &str, body: &str) -> Reply {
    send(
        s.post(path)
            .header("content-type", "application/x-ndjson")
            .header("x-prefer-acknowledge-uri", "true")
            .body(body.to_owned()),
    )
    .await
}

fn hold_location(r: &Reply) -> String {
    assert_eq!(r.status, 303, "{}", r.text);
    let location = r.header("location").expect("Location header").to_owned();
    let id = location
        .strip_prefix("/contentListener/holds/")
        .unwrap_or_else(|| panic!("hold URI {location:?}"));
    assert!(uuid::Uuid::parse_str(id).is_ok(), "hold id {id:?}");
    assert_eq!(r.header("x-location-uri-intent"), Some("flowfile-hold"));
    assert_eq!(r.text, location, "the body names the hold URI too");
    location
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_lands_only_after_its_delete() {
    let s = TestServer::start_default().await;
    let r = post_hold(&s, "/contentListener", "{\"id\":1}\n{\"id\":2}\n").await;
    let first = hold_location(&r);
    let r = post_hold(&s, "/contentListener/orders", "{\"id\":3}\n").await;
    let second = hold_location(&r);
    assert_ne!(first, second);

    assert!(s.landed().await.is_empty(), "nothing lands before DELETE");

    let r = send(s.client.delete(s.url(&second))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = send(s.client.delete(s.url(&first))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let landed = s.landed().await;
    let got: Vec<_> = landed
        .iter()
        .map(|l| (l.stream().to_owned(), l.seq(), l.record.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("customers".into(), 1, json!({"id":1})),
            ("customers".into(), 2, json!({"id":2})),
            ("orders".into(), 1, json!({"id":3})),
        ]
    );
    assert_eq!(
        landed[0].attr("mime.type"),
        Some("application/x-ndjson"),
        "held records keep their attributes"
    );

    // A hold is confirmed once: the second DELETE finds nothing, and nothing lands twice.
    let r = send(s.client.delete(s.url(&first))).await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert!(r.text.contains("no hold with id"), "{}", r.text);
    let r = send(s.client.delete(s.url("/contentListener/holds/not-a-hold"))).await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(s.landed().await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unconfirmed_hold_expires_and_never_lands() {
    let s = TestServer::start_with(|setup| {
        setup.server.hold_timeout = Duration::from_millis(500);
    })
    .await;
    let r = post_hold(&s, "/contentListener", "{\"id\":1}\n").await;
    let location = hold_location(&r);
    tokio::time::sleep(Duration::from_millis(700)).await;
    let r = send(s.client.delete(s.url(&location))).await;
    assert_eq!(r.status, 404, "expired hold: {}", r.text);
    assert!(s.landed().await.is_empty());

    // A confirmed-in-time hold on the same server still works.
    let r = post_hold(&s, "/contentListener", "{\"id\":2}\n").await;
    let location = hold_location(&r);
    let r = send(s.client.delete(s.url(&location))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(records(&s.landed().await), vec![json!({"id":2})]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_bytes_are_bounded_and_freed_by_expiry() {
    // Room for one hold at a time; expired holds are swept in the background (1 s tick).
    let s = TestServer::start_with(|setup| {
        setup.server.max_hold_bytes = 1;
        setup.server.hold_timeout = Duration::from_millis(500);
        setup.server.retry_after_secs = 2;
    })
    .await;
    let r = post_hold(&s, "/contentListener", "{\"id\":1}\n").await;
    let _abandoned = hold_location(&r);
    let r = post_hold(&s, "/contentListener", "{\"id\":2}\n").await;
    assert_eq!(r.status, 503, "{}", r.text);
    assert_eq!(r.header("retry-after"), Some("2"));
    assert!(r.text.contains("unconfirmed holds"), "{}", r.text);

    // The abandoned hold is swept without anyone asking for it; then a new one fits.
    let deadline = Instant::now() + Duration::from_secs(5);
    let location = loop {
        let r = post_hold(&s, "/contentListener", "{\"id\":3}\n").await;
        if r.status == 303 {
            break hold_location(&r);
        }
        assert_eq!(r.status, 503, "{}", r.text);
        assert!(
            Instant::now() < deadline,
            "expired hold never freed its bytes"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let r = send(s.client.delete(s.url(&location))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(records(&s.landed().await), vec![json!({"id":3})]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_is_only_made_for_a_valid_request() {
    let s = TestServer::start_default().await;
    // Records are checked before the hold: a bad body is a 400, not a 303.
    let r = post_hold(&s, "/contentListener", "{\"id\":1}\n{oops}\n").await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("line 2"), "{}", r.text);
    assert!(r.header("location").is_none());
    let r = post_hold(&s, "/contentListener/nope", "{\"id\":1}\n").await;
    assert_eq!(r.status, 404, "{}", r.text);
    // Without the header (or with it false), the POST is committed at once.
    let r = post_as(
        &s,
        NDJSON,
        &[("x-prefer-acknowledge-uri", "false")],
        "{\"id\":5}\n",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(records(&s.landed().await), vec![json!({"id":5})]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_refused_for_a_full_spool_can_be_retried() {
    let s = TestServer::start_with(|setup| {
        setup.spool_max_bytes = 2048;
        setup.sink_up = false;
        let mut customers = landing::StreamConfig::new("customers");
        customers.max_records = 4; // seal batches often, so the spool drains once the sink is back
        setup.streams = vec![customers];
        setup.server.retry_after_secs = 1;
    })
    .await;
    let r = post_hold(&s, "/contentListener", "{\"id\":0}\n").await;
    let location = hold_location(&r);
    // Fill the spool while the sink is down.
    let mut acked = Vec::new();
    for i in 1..200u64 {
        let r = post_as(
            &s,
            NDJSON,
            &[],
            format!("{{\"id\":{i}}}\n{{\"id\":{}}}\n", i + 1000),
        )
        .await;
        if r.status == 503 {
            break;
        }
        assert_eq!(r.status, 200, "{}", r.text);
        acked.extend([i, i + 1000]);
    }
    assert!(!acked.is_empty());
    // The confirmation cannot be made durable now: 503, retry later.
    let r = send(s.client.delete(s.url(&location))).await;
    assert_eq!(r.status, 503, "{}", r.text);
    assert_eq!(r.header("retry-after"), Some("1"));
    // Sink back, spool drains: the retried DELETE (well within the hold timeout) commits it.
    s.sink.set_up(true);
    let deadline = Instant::now() + Duration::from_secs(15);
    let r = loop {
        let r = send(s.client.delete(s.url(&location))).await;
        if r.status != 503 || Instant::now() > deadline {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(r.status, 200, "retried DELETE after a 503: {}", r.text);
    acked.push(0);
    let mut ids: Vec<u64> = s
        .landed()
        .await
        .iter()
        .map(|l| l.record["id"].as_u64().unwrap())
        .collect();
    ids.sort_unstable();
    acked.sort_unstable();
    assert_eq!(ids, acked);
}
