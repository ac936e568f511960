//! `GET /metrics` can require a bearer token of its own (or the ingest one), so the numbers
//! of a receiver listening beyond loopback are not open to anyone.

use std::sync::Arc;

use crate::support::receiver::{TestServer, send};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_need_their_token_when_one_is_set() {
    let s = TestServer::start_with(|setup| {
        setup.metrics = Some(Arc::new(|| "snowstream_up 1\n".to_string()));
        setup.server.metrics_token = Some("scrape-me".into());
    })
    .await;
    let r = send(s.client.get(s.url("/metrics"))).await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    let r = send(s.client.get(s.url("/metrics")).bearer_auth("wrong")).await;
    assert_eq!(r.status, 401, "{}", r.text);
    let r = send(s.client.get(s.url("/metrics")).bearer_auth("scrape-me")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.text, "snowstream_up 1\n");
    // The health check stays open for load balancers.
    let r = send(s.client.get(s.url("/healthcheck"))).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_open_without_a_token() {
    let s = TestServer::start_with(|setup| {
        setup.metrics = Some(Arc::new(|| "snowstream_up 1\n".to_string()));
    })
    .await;
    let r = send(s.client.get(s.url("/metrics"))).await;
    assert_eq!(r.status, 200, "{}", r.text);
}
