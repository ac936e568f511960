//! Holds as NiFi 1.x PostHTTP confirms them, request for request.
//!
//! PostHTTP (nifi-standard-processors, PostHTTP.java at rel/nifi-1.28.1, `onTrigger`, after
//! the comment "the response indicated a Hold URI; delete the Hold", around line 795) does
//! not DELETE the `Location` of a 303 as given. It resolves it against the URL it posted to:
//! - a Location starting with `/contentListener` becomes `url + location.substring(16)`
//!   ("it may not really be /contentListener ... if posting to a proxy/load balancer");
//! - another absolute path keeps the posted URL's scheme, host and port;
//! - anything not starting with `http` is appended to the URL.
//!
//! [`post_http_hold_uri`] reproduces those three branches; every test DELETEs what it returns,
//! with the `x-nifi-transaction-id` header PostHTTP sets on the DELETE.

use crate::support::receiver::{TestServer, send};
use serde_json::json;

/// PostHTTP's hold URI for `location`, answered to a POST to `url`.
fn post_http_hold_uri(url: &str, location: &str) -> String {
    if let Some(rest) = location.strip_prefix("/contentListener") {
        format!("{url}{rest}")
    } else if location.starts_with('/') {
        let first_slash = url[8.min(url.len())..]
            .find('/')
            .map_or(url.len(), |i| i + 8);
        format!("{}{location}", &url[..first_slash])
    } else if !location.starts_with("http") {
        let sep = if url.ends_with('/') { "" } else { "/" };
        format!("{url}{sep}{location}")
    } else {
        location.to_owned()
    }
}

/// POSTs as PostHTTP does with a hold, DELETEs the hold URI PostHTTP computes, twice.
/// Returns the two DELETE statuses.
async fn post_and_confirm(s: &TestServer, path: &str, body: &str) -> (u16, u16) {
    let url = s.url(path);
    let r = send(
        s.client
            .post(&url)
            .header("content-type", "application/x-ndjson")
            .header("x-prefer-acknowledge-uri", "true")
            .header("x-nifi-transaction-id", "tx-1")
            .body(body.to_owned()),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(r.header("x-location-uri-intent"), Some("flowfile-hold"));
    let hold = post_http_hold_uri(&url, r.header("location").expect("Location"));
    let delete = || {
        s.client
            .delete(&hold)
            .header("x-nifi-transaction-id", "tx-1")
    };
    let first = send(delete()).await.status;
    let second = send(delete()).await.status;
    (first, second)
}

#[test]
fn the_hold_uri_rule_is_posthttps() {
    let url = "http://h:8080/contentListener/customers";
    assert_eq!(
        post_http_hold_uri(url, "/contentListener/holds/abc"),
        "http://h:8080/contentListener/customers/holds/abc"
    );
    assert_eq!(
        post_http_hold_uri("http://h:8080/ingest/x", "/ingest/holds/abc"),
        "http://h:8080/ingest/holds/abc"
    );
    assert_eq!(
        post_http_hold_uri("http://h:8080/ingest", "holds/abc"),
        "http://h:8080/ingest/holds/abc"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posthttp_confirms_holds_on_the_base_path_and_on_stream_paths_exactly_once() {
    let s = TestServer::start_default().await;
    assert_eq!(
        post_and_confirm(&s, "/contentListener", "{\"id\":1}\n").await,
        (200, 404),
        "base path: confirmed once, then the hold is gone"
    );
    assert_eq!(
        post_and_confirm(&s, "/contentListener/orders", "{\"id\":2}\n{\"id\":3}\n").await,
        (200, 404),
        "stream path: PostHTTP DELETEs /contentListener/orders/holds/{{id}}"
    );
    let landed: Vec<_> = s
        .landed()
        .await
        .iter()
        .map(|l| (l.stream().to_owned(), l.record.clone()))
        .collect();
    assert_eq!(
        landed,
        vec![
            ("customers".into(), json!({"id":1})),
            ("orders".into(), json!({"id":2})),
            ("orders".into(), json!({"id":3})),
        ],
        "each held record lands exactly once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posthttp_confirms_holds_under_another_base_path() {
    let s = TestServer::start_with(|setup| setup.server.base_path = "ingest".into()).await;
    assert_eq!(
        post_and_confirm(&s, "/ingest/orders", "{\"id\":7}\n").await,
        (200, 404)
    );
    let landed = s.landed().await;
    assert_eq!(landed.len(), 1);
    assert_eq!(landed[0].record, json!({"id":7}));
}
