//! Routing to named streams (by path and by header), request headers as attributes, and
//! bearer-token auth, over real HTTP.

use crate::support::receiver::{JSON, Reply, TestServer, post_as, records, send};
use flowfile::Version;
use landing::StreamConfig;
use regex::Regex;
use serde_json::json;

async fn post_json(s: &TestServer, path: &str, stream_header: Option<&str>, body: &str) -> Reply {
    let mut req = s
        .post(path)
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(name) = stream_header {
        req = req.header(server::STREAM_HEADER, name);
    }
    send(req).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_are_chosen_by_path_or_header() {
    let s = TestServer::start_with(|setup| {
        let mut orders = StreamConfig::new("orders");
        orders.prefix = "raw/ops".into();
        setup.streams = vec![StreamConfig::new("customers"), orders];
    })
    .await;
    let r = post_json(&s, "/contentListener/orders", None, r#"{"id":1}"#).await;
    assert_eq!(r.text, "accepted 1 record into orders (seq 1..=1)\n");
    let r = post_json(&s, "/contentListener", Some("orders"), r#"{"id":2}"#).await;
    assert_eq!(r.text, "accepted 1 record into orders (seq 2..=2)\n");
    let r = post_json(&s, "/contentListener", None, r#"{"id":3}"#).await;
    assert_eq!(r.text, "accepted 1 record into customers (seq 1..=1)\n");
    // The path names the stream; the header does not override it.
    let r = post_json(
        &s,
        "/contentListener/customers",
        Some("orders"),
        r#"{"id":4}"#,
    )
    .await;
    assert_eq!(r.text, "accepted 1 record into customers (seq 2..=2)\n");

    for (path, header) in [
        ("/contentListener/nope", None),
        ("/contentListener", Some("nope")),
        ("/contentListener/nope", Some("orders")),
    ] {
        let r = post_json(&s, path, header, r#"{"id":99}"#).await;
        assert_eq!(r.status, 404, "{path} {header:?}: {}", r.text);
        assert_eq!(r.text, "no stream named \"nope\" is configured\n");
    }

    let landed = s.landed().await;
    let got: Vec<_> = landed
        .iter()
        .map(|l| (l.stream(), l.record["id"].as_u64().unwrap(), l.key.as_str()))
        .collect();
    assert_eq!(got.len(), 4, "{got:?}");
    for (stream, id, key) in &got {
        let folder = match *stream {
            "orders" => "raw/ops/orders/dt=",
            _ => "customers/dt=",
        };
        assert!(key.starts_with(folder), "record {id} of {stream} in {key}");
    }
    let ids = |name: &str| -> Vec<u64> {
        got.iter()
            .filter(|(s, ..)| *s == name)
            .map(|(_, id, _)| *id)
            .collect()
    };
    assert_eq!(ids("orders"), [1, 2]);
    assert_eq!(ids("customers"), [3, 4]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matching_headers_become_attributes_but_never_credentials() {
    let s = TestServer::start_with(|setup| {
        setup.server.headers_as_attributes = Some(Regex::new("^x-(trace-id|tenant)$").unwrap());
    })
    .await;
    let r = post_as(
        &s,
        JSON,
        &[
            ("x-trace-id", "abc-123"),
            ("x-tenant", "acme"),
            ("x-other", "not me"),
        ],
        r#"{"id":1}"#,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Request headers apply to packaged FlowFiles too, over the package's own attributes.
    let mut pkg = Vec::new();
    flowfile::encode(
        flowfile::Version::V3,
        &[
            ("filename", "p.json"),
            ("x-tenant", "from-package"),
            ("kept", "yes"),
        ],
        br#"{"id":2}"#,
        &mut pkg,
    );
    let r = post_as(&s, Version::V3.mime(), &[("x-tenant", "from-header")], pkg).await;
    assert_eq!(r.status, 200, "{}", r.text);

    let landed = s.landed().await;
    assert_eq!(landed.len(), 2);
    assert_eq!(landed[0].attr("x-trace-id"), Some("abc-123"));
    assert_eq!(landed[0].attr("x-tenant"), Some("acme"));
    assert_eq!(landed[0].attr("x-other"), None);
    assert_eq!(
        landed[0].attr("content-type"),
        None,
        "not matched by the regex"
    );
    assert_eq!(landed[1].attr("x-tenant"), Some("from-header"));
    assert_eq!(landed[1].attr("kept"), Some("yes"));
    assert_eq!(landed[1].attr("x-trace-id"), None);

    // A catch-all regex with auth on: every header but the credentials lands.
    let token = "tok-7d1f0e5a";
    let s = TestServer::start_with(|setup| {
        setup.server.headers_as_attributes = Some(Regex::new(".*").unwrap());
        setup.server.auth_token = Some(token.into());
    })
    .await;
    let r = send(
        s.post("/contentListener")
            .bearer_auth(token)
            .header("content-type", "application/json")
            .header("cookie", "session=s3cr3t")
            .header("proxy-authorization", "Basic czNjcjN0")
            .header("x-trace-id", "t-9")
            .body(r#"{"id":3}"#),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let landed = s.landed().await;
    assert_eq!(records(&landed), vec![json!({"id":3})]);
    let attrs = landed[0].meta["attributes"].as_object().unwrap();
    assert_eq!(landed[0].attr("x-trace-id"), Some("t-9"));
    assert_eq!(landed[0].attr("content-type"), Some("application/json"));
    for secret in ["authorization", "cookie", "proxy-authorization"] {
        assert!(!attrs.contains_key(secret), "{secret} landed: {attrs:?}");
    }
    let text = serde_json::to_string(&landed[0].meta).unwrap();
    assert!(!text.contains(token) && !text.contains("s3cr3t") && !text.contains("czNjcjN0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_token_guards_post_head_and_delete() {
    let token = "Zq8-secret-token";
    let s = TestServer::start_with(|setup| {
        setup.server.auth_token = Some(token.into());
    })
    .await;
    let post = |auth: Option<&str>, path: &str| {
        let mut req = s
            .post(path)
            .header("content-type", "application/json")
            .body(r#"{"id":1}"#);
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        req
    };
    let wrong_len = format!("Bearer {}", &token[..token.len() - 1]);
    let wrong = format!("Bearer {}", token.replace('Z', "z")); // same length, one byte off
    let basic = format!("Basic {token}");
    let bare = token.to_string();
    for auth in [
        None,
        Some(wrong_len.as_str()),
        Some(&wrong),
        Some(&basic),
        Some(&bare),
    ] {
        let r = send(post(auth, "/contentListener")).await;
        assert_eq!(r.status, 401, "{auth:?}: {}", r.text);
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
        assert_eq!(r.text, "missing or wrong bearer token\n");
        assert!(!r.text.contains(token));
    }
    // Auth is checked before anything else: an unknown stream does not leak as a 404.
    let r = send(post(None, "/contentListener/nope")).await;
    assert_eq!(r.status, 401);

    let right = format!("Bearer {token}");
    let r = send(post(Some(&right), "/contentListener")).await;
    assert_eq!(r.status, 200, "{}", r.text);

    let r = send(s.client.head(s.url("/contentListener"))).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    assert!(r.header("x-nifi-transfer-protocol-version").is_none());
    let r = send(s.client.head(s.url("/contentListener")).bearer_auth(token)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-nifi-transfer-protocol-version"), Some("3"));

    // Holds: made and confirmed only with the token.
    let r = send(post(Some(&right), "/contentListener").header("x-prefer-acknowledge-uri", "true"))
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let location = r.header("location").unwrap().to_owned();
    let r = send(s.client.delete(s.url(&location))).await;
    assert_eq!(r.status, 401);
    let r = send(s.client.delete(s.url(&location)).bearer_auth(token)).await;
    assert_eq!(r.status, 200, "{}", r.text);

    // The healthcheck stays open for load balancers.
    let r = send(s.client.get(s.url("/healthcheck"))).await;
    assert_eq!(r.status, 200);

    let landed = s.landed().await;
    assert_eq!(
        landed.iter().map(|l| l.seq()).collect::<Vec<_>>(),
        [1, 2],
        "only the two authorised requests landed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_stream_header_is_refused_not_routed_to_the_default() {
    let s = TestServer::start_default().await;
    let r = send(
        s.post("/contentListener")
            .header("content-type", "application/json")
            .header(
                server::STREAM_HEADER,
                reqwest::header::HeaderValue::from_bytes(b"ord\xe9rs").unwrap(),
            )
            .body(r#"{"id":1}"#),
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert!(r.text.starts_with("no stream named"), "{}", r.text);
    assert!(s.landed().await.is_empty(), "landed in the default stream");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bearer_scheme_is_case_insensitive() {
    let token = "tok-1";
    let s = TestServer::start_with(|setup| setup.server.auth_token = Some(token.into())).await;
    for scheme in ["bearer", "BEARER"] {
        let r = send(
            s.post("/contentListener")
                .header("content-type", "application/json")
                .header("authorization", format!("{scheme} {token}"))
                .body(r#"{"id":1}"#),
        )
        .await;
        assert_eq!(r.status, 200, "{scheme}: {}", r.text);
    }
}
