//! Credential-like headers never land as attributes, even when the header regex of
//! `--headers-as-attributes` (NiFi ListenHTTP "HTTP Headers to receive as Attributes
//! (Regex)", which copies every matching header: ListenHTTPServlet.java, doPost) matches
//! them; the deny-list is configurable.

use crate::support::receiver::{NDJSON, TestServer, post_as};
use regex::Regex;

const CREDENTIALS: [(&str, &str); 6] = [
    ("authorization", "Basic dXNlcjpwYXNz"),
    ("cookie", "session=s3cr3t"),
    ("x-api-key", "key-s3cr3t"),
    ("x-amz-security-token", "token-s3cr3t"),
    ("x-auth-token", "token-s3cr3t"),
    ("proxy-authorization", "Basic cHJveHk6cGFzcw=="),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credential_headers_never_land_even_when_the_regex_matches() {
    let s = TestServer::start_with(|setup| {
        setup.server.headers_as_attributes = Some(Regex::new("^(?:.*)$").unwrap());
    })
    .await;
    let mut headers = CREDENTIALS.to_vec();
    headers.push(("x-trace-id", "t-1"));
    let r = post_as(&s, NDJSON, &headers, "{\"id\":1}\n").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let landed = s.landed().await;
    assert_eq!(landed.len(), 1);
    let line = &landed[0];
    assert_eq!(
        line.attr("x-trace-id"),
        Some("t-1"),
        "other headers are kept"
    );
    for (name, _) in CREDENTIALS {
        assert_eq!(line.attr(name), None, "{name} landed");
    }
    let text = serde_json::to_string(&line.meta).unwrap();
    assert!(!text.contains("s3cr3t"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deny_list_is_configurable_and_authorization_always_dropped() {
    let s = TestServer::start_with(|setup| {
        setup.server.headers_as_attributes = Some(Regex::new("^(?:.*)$").unwrap());
        setup.server.header_deny_list = vec!["x-trace-id".into()];
    })
    .await;
    let headers = [
        ("x-trace-id", "t-1"),
        ("x-api-key", "not-a-secret-here"),
        ("authorization", "Basic dXNlcjpwYXNz"),
    ];
    let r = post_as(&s, NDJSON, &headers, "{\"id\":1}\n").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let landed = s.landed().await;
    let line = &landed[0];
    assert_eq!(line.attr("x-trace-id"), None);
    assert_eq!(line.attr("x-api-key"), Some("not-a-secret-here"));
    assert_eq!(line.attr("authorization"), None);
}
