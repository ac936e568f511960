//! Raw (unpackaged) bodies over real HTTP: each content type, gzip, empty bodies, the stream's
//! default format, all-or-nothing rejection, HEAD/healthcheck/metrics, configurable success
//! code and base path. Every test reads the landed files to see exactly which records landed.

use std::collections::HashMap;
use std::sync::Arc;

use crate::support::receiver::{JSON, Reply, TestServer, gzip, is_uuid_v4, post_as, records, send};
use records::Format;
use serde_json::json;

async fn post(s: &TestServer, path: &str, content_type: Option<&str>, body: &[u8]) -> Reply {
    let mut req = s.post(path).body(body.to_vec());
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    send(req).await
}

/// [`post`], which must answer 200.
async fn accepted(s: &TestServer, path: &str, content_type: Option<&str>, body: &[u8]) -> Reply {
    let r = post(s, path, content_type, body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r
}

/// POSTs `body` to `/contentListener` as `content_type` with `Content-Encoding: encoding`.
async fn post_encoded(
    s: &TestServer,
    content_type: &str,
    encoding: &str,
    body: impl Into<Vec<u8>>,
) -> Reply {
    post_as(
        s,
        content_type,
        &[("content-encoding", encoding)],
        body.into(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_json_object_lands_verbatim_with_nifi_attributes() {
    let s = TestServer::start_default().await;
    let body = br#"{"id": 1, "name":"Ann",  "tags":["a","b"]}"#;
    let r = accepted(&s, "/contentListener", Some("application/json"), body).await;
    assert_eq!(r.text, "accepted 1 record into customers (seq 1..=1)\n");
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));

    let landed = s.landed().await;
    assert_eq!(landed.len(), 1);
    let l = &landed[0];
    // The record is the original bytes, untouched (spacing and key order included).
    assert_eq!(l.raw_record, std::str::from_utf8(body).unwrap());
    assert_eq!(l.meta["stream"], "customers");
    assert_eq!(l.meta["instance"], "t1");
    assert_eq!(l.seq(), 1);
    let received_at = l.meta["received_at"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(received_at).is_ok()
            && received_at.ends_with('Z')
            && received_at.len() == "2026-11-24T13:45:01.123Z".len(),
        "received_at {received_at:?} is RFC 3339 UTC with milliseconds"
    );
    assert!(l.key.starts_with("customers/dt="), "{}", l.key);
    assert!(
        l.key.ends_with("/t1-00000000000000000001.ndjson.zst"),
        "{}",
        l.key
    );
    // Attributes as NiFi's ListenHTTPServlet sets them for a raw body.
    assert_eq!(l.attr("mime.type"), Some("application/json"));
    assert_eq!(l.attr("path"), Some("./"));
    let filename = l.attr("filename").unwrap();
    assert!(
        !filename.is_empty() && filename.bytes().all(|b| b.is_ascii_digit()),
        "filename {filename:?} is NiFi's nanosecond timestamp"
    );
    assert!(is_uuid_v4(l.attr("uuid").unwrap()), "{:?}", l.attr("uuid"));
    assert_eq!(l.attr("restlistener.remote.source.host"), Some("127.0.0.1"));
    assert_eq!(l.attr("restlistener.request.uri"), Some("/contentListener"));
    assert_eq!(l.attr("restlistener.remote.user.dn"), Some("none"));
    assert_eq!(l.attr("restlistener.remote.issuer.dn"), Some("none"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_array_concatenated_and_pretty_printed_objects() {
    let s = TestServer::start_default().await;
    let r = accepted(
        &s,
        "/contentListener",
        Some("application/json"),
        br#"[{"id":1},{"id":2,"x":null},{"id":3}]"#,
    )
    .await;
    assert_eq!(r.seqs(), Some((1, 3)));
    let r = post(
        &s,
        "/contentListener",
        Some("application/json; charset=utf-8"),
        b"{\"id\":4}{\"id\":5}\n{\"id\":6}",
    )
    .await;
    assert_eq!(r.seqs(), Some((4, 6)), "{}", r.text);
    let r = post(
        &s,
        "/contentListener",
        Some("application/json"),
        b"{\n  \"id\": 7,\n  \"address\": \"1 Main St\\nSpringfield\"\n}\n",
    )
    .await;
    assert_eq!(r.seqs(), Some((7, 7)), "{}", r.text);

    let landed = s.landed().await;
    assert_eq!(
        records(&landed),
        vec![
            json!({"id":1}),
            json!({"id":2,"x":null}),
            json!({"id":3}),
            json!({"id":4}),
            json!({"id":5}),
            json!({"id":6}),
            json!({"id":7,"address":"1 Main St\nSpringfield"}),
        ]
    );
    assert_eq!(
        landed.iter().map(|l| l.seq()).collect::<Vec<_>>(),
        (1..=7).collect::<Vec<_>>()
    );
    // A multi-line record lands on one line (the file is NDJSON).
    assert!(!landed[6].raw_record.contains('\n'));
    // Records of one request share the request's FlowFile attributes (same uuid).
    assert_eq!(landed[0].attr("uuid"), landed[2].attr("uuid"));
    assert_ne!(landed[0].attr("uuid"), landed[3].attr("uuid"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ndjson_and_csv_with_quoted_multiline_fields() {
    let s = TestServer::start_default().await;
    let r = accepted(
        &s,
        "/contentListener",
        Some("application/x-ndjson"),
        b"{\"id\":1}\n\n{\"id\":2}\r\n   \n{\"id\":3}",
    )
    .await;
    assert_eq!(r.text, "accepted 3 records into customers (seq 1..=3)\n");

    let csv = "id,name,address,country\n\
               10,Jane Doe,\"1 Main St\nSpringfield, IL 62701\",Chile\n\
               11,\"O\"\"Brien, Pat\",\"\",Peru\n";
    let r = accepted(&s, "/contentListener", Some("text/csv"), csv.as_bytes()).await;
    assert_eq!(r.seqs(), Some((4, 5)));

    let landed = s.landed().await;
    assert_eq!(
        records(&landed),
        vec![
            json!({"id":1}),
            json!({"id":2}),
            json!({"id":3}),
            json!({"id":"10","name":"Jane Doe","address":"1 Main St\nSpringfield, IL 62701","country":"Chile"}),
            json!({"id":"11","name":"O\"Brien, Pat","address":"","country":"Peru"}),
        ]
    );
    assert_eq!(landed[3].attr("mime.type"), Some("text/csv"));
    assert_eq!(landed[0].attr("mime.type"), Some("application/x-ndjson"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_body_is_accepted_with_zero_records() {
    let s = TestServer::start_default().await;
    for (ct, body) in [
        (Some("application/json"), &b""[..]),
        (None, b""),
        (Some("application/x-ndjson"), b"\n  \n"),
        (Some("text/csv"), b""),
    ] {
        let r = post(&s, "/contentListener", ct, body).await;
        assert_eq!(r.status, 200, "{ct:?} {body:?}: {}", r.text);
        assert_eq!(r.text, "accepted 0 records into customers\n");
    }
    assert!(s.landed().await.is_empty());
    // No sequence numbers were used up.
    let r = post(&s, "/contentListener", Some("application/json"), b"{}").await;
    assert_eq!(r.seqs(), Some((1, 1)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_content_type_uses_the_stream_default_format() {
    let s = TestServer::start_with(|setup| {
        let csv = server::StreamOptions {
            format: Format::Csv,
            ..Default::default()
        };
        setup.server.streams = HashMap::from([("orders".to_string(), csv)]);
    })
    .await;
    // customers: no configured default, so JSON.
    accepted(
        &s,
        "/contentListener",
        Some("text/plain"),
        b"{\"id\":1}\n{\"id\":2}",
    )
    .await;
    accepted(
        &s,
        "/contentListener",
        Some("application/octet-stream"),
        b"[{\"id\":3}]",
    )
    .await;
    // orders: CSV by configuration, with or without a Content-Type.
    accepted(
        &s,
        "/contentListener/orders",
        Some("text/plain"),
        b"order,qty\nA-1,2\n",
    )
    .await;
    accepted(&s, "/contentListener/orders", None, b"order,qty\nA-2,5\n").await;
    // A known Content-Type still wins over the stream default.
    accepted(
        &s,
        "/contentListener/orders",
        Some("application/json"),
        b"{\"order\":\"A-3\"}",
    )
    .await;
    // CSV text sent to a JSON-default stream is refused, not landed as garbage.
    let r = post(&s, "/contentListener", Some("text/plain"), b"a,b\n1,2\n").await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("not valid json"), "{}", r.text);

    let landed = s.landed().await;
    let by_stream = |name: &str| {
        landed
            .iter()
            .filter(|l| l.stream() == name)
            .map(|l| l.record.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        by_stream("customers"),
        vec![json!({"id":1}), json!({"id":2}), json!({"id":3})]
    );
    assert_eq!(
        by_stream("orders"),
        vec![
            json!({"order":"A-1","qty":"2"}),
            json!({"order":"A-2","qty":"5"}),
            json!({"order":"A-3"}),
        ]
    );
    let orders: Vec<_> = landed.iter().filter(|l| l.stream() == "orders").collect();
    assert_eq!(orders[0].attr("mime.type"), Some("text/plain"));
    assert_eq!(
        orders[1].attr("mime.type"),
        None,
        "no Content-Type, no mime.type"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_bodies_are_decompressed() {
    let s = TestServer::start_default().await;
    let ndjson = b"{\"id\":1}\n{\"id\":2}\n";
    let r = post_encoded(&s, "application/x-ndjson", "gzip", gzip(ndjson)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.seqs(), Some((1, 2)));
    // NiFi's own header, as PostHTTP sends it.
    let r = post_as(
        &s,
        JSON,
        &[("flowfile-gzipped", "true")],
        gzip(b"[{\"id\":3}]"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Several gzip members one after another (concatenated .gz files) are one body.
    let mut two = gzip(b"{\"id\":4}\n");
    two.extend(gzip(b"{\"id\":5}\n"));
    let r = post_encoded(&s, "application/x-ndjson", "GZIP", two).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.seqs(), Some((4, 5)));
    // Without the header, gzip bytes are not JSON.
    let r = post_as(&s, JSON, &[], gzip(b"{\"id\":99}")).await;
    assert_eq!(r.status, 400, "{}", r.text);

    let landed = s.landed().await;
    assert_eq!(
        records(&landed),
        (1..=5).map(|i| json!({ "id": i })).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_content_encodings_never_land_compressed_bytes() {
    let s = TestServer::start_default().await;
    let mut deflated = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut deflated, b"{\"id\":1}\n{\"id\":2}\n").unwrap();
    let deflated = deflated.finish().unwrap();
    let r = post_encoded(&s, "application/x-ndjson", "deflate", deflated).await;
    assert!((400..500).contains(&r.status), "{}: {}", r.status, r.text);
    // An empty body that claims to be gzip is not a gzip stream.
    let r = post_encoded(&s, "application/x-ndjson", "gzip", "").await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("gzip"), "{}", r.text);
    // A gzip stream of nothing is zero records.
    let r = post_encoded(&s, "application/x-ndjson", "gzip", gzip(b"")).await;
    assert_eq!(r.text, "accepted 0 records into customers\n");
    assert!(s.landed().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_gzip_is_a_400_and_lands_nothing() {
    let s = TestServer::start_default().await;
    let good = gzip(b"{\"id\":1}\n{\"id\":2}\n");
    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0xFF;
    let truncated = good[..good.len() - 6].to_vec();
    for (what, body) in [
        ("not gzip at all", b"{\"id\":1}".to_vec()),
        ("flipped byte", flipped),
        ("truncated", truncated),
    ] {
        let r = post_encoded(&s, "application/x-ndjson", "gzip", body).await;
        assert_eq!(r.status, 400, "{what}: {}", r.text);
        assert!(
            r.text.contains("gzip") || r.text.contains("not valid"),
            "{what}: reason {:?} says why",
            r.text
        );
    }
    assert!(s.landed().await.is_empty());
    let r = post_encoded(&s, "application/x-ndjson", "gzip", good).await;
    assert_eq!(r.seqs(), Some((1, 2)), "{}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_record_rejects_the_whole_request() {
    let s = TestServer::start_default().await;
    let body = b"{\"id\":1}\n{\"id\":2}\n{\"id\":3,]\n{\"id\":4}\n";
    let r = post(&s, "/contentListener", Some("application/x-ndjson"), body).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(
        r.text.contains("line 3"),
        "reason names line 3: {:?}",
        r.text
    );
    assert!(
        r.text.starts_with("body is not valid ndjson"),
        "{:?}",
        r.text
    );
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));

    // Other shapes of the same mistake: never a partial accept.
    let r = post(
        &s,
        "/contentListener",
        Some("application/json"),
        b"[{\"id\":1},\n{\"id\":2},\n 42]",
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("line 3"), "{:?}", r.text);
    let r = post(
        &s,
        "/contentListener",
        Some("text/csv"),
        b"id,name\n1,a\n2,\"unterminated\n",
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("csv"), "{:?}", r.text);

    assert!(
        s.landed().await.is_empty(),
        "nothing of a refused request lands"
    );
    let r = accepted(
        &s,
        "/contentListener",
        Some("application/x-ndjson"),
        b"{\"id\":10}\n{\"id\":11}\n",
    )
    .await;
    assert_eq!(
        r.seqs(),
        Some((1, 2)),
        "refused requests used no sequence numbers"
    );
    assert_eq!(
        records(&s.landed().await),
        vec![json!({"id":10}), json!({"id":11})]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_healthcheck_and_metrics() {
    let s = TestServer::start_with(|setup| {
        setup.metrics = Some(Arc::new(|| "snowstream_up 1\n".to_string()));
    })
    .await;
    for path in ["/contentListener", "/contentListener/orders"] {
        let r = send(s.client.head(s.url(path))).await;
        assert_eq!(r.status, 200, "HEAD {path}");
        let accept = r.header("accept").unwrap();
        assert!(
            accept.contains("application/flowfile-v3")
                && accept.contains("application/flowfile-v2"),
            "{accept}"
        );
        assert_eq!(r.header("accept-encoding"), Some("gzip"));
        assert_eq!(r.header("x-nifi-transfer-protocol-version"), Some("3"));
    }
    let r = send(s.client.get(s.url("/healthcheck"))).await;
    assert_eq!((r.status, r.text.as_str()), (200, "OK\n"));
    let r = send(s.client.get(s.url("/metrics"))).await;
    assert_eq!((r.status, r.text.as_str()), (200, "snowstream_up 1\n"));
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    // GET of the listener is not an ingest method.
    let r = send(s.client.get(s.url("/contentListener"))).await;
    assert_eq!(r.status, 405);

    let plain = TestServer::start_default().await;
    let r = send(plain.client.get(plain.url("/metrics"))).await;
    assert_eq!(r.status, 404, "metrics off without a renderer");
}

/// `--base-path /` serves the receiver at the root, as a NiFi ListenHTTP with Base Path `/`
/// (its validator takes it): records at `/` and `/{stream}`, holds at `/holds/{id}`, the
/// health check at `/healthcheck`, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_base_path_may_be_the_root() {
    let s = TestServer::start_with(|setup| setup.server.base_path = "/".into()).await;
    let r = post(&s, "/", Some("application/json"), b"{\"id\":1}").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = post(&s, "/orders", Some("application/json"), b"{\"id\":2}").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = send(s.client.head(s.url("/"))).await;
    assert_eq!(r.header("x-nifi-transfer-protocol-version"), Some("3"));
    let r = send(s.client.get(s.url("/healthcheck"))).await;
    assert_eq!(r.status, 200);
    let r = send(
        s.post("/")
            .header("content-type", "application/json")
            .header("x-prefer-acknowledge-uri", "true")
            .body("{\"id\":3}"),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let location = r.header("location").unwrap().to_owned();
    assert!(location.starts_with("/holds/"), "{location}");
    let r = send(s.client.delete(s.url(&location))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(s.landed().await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn success_code_and_base_path_are_configurable() {
    let s = TestServer::start_with(|setup| {
        setup.server.success_code = 202;
        setup.server.base_path = "/ingest/v1/".into();
    })
    .await;
    let r = post(&s, "/ingest/v1", Some("application/json"), b"{\"id\":1}").await;
    assert_eq!(r.status, 202, "{}", r.text);
    let r = post(
        &s,
        "/ingest/v1/orders",
        Some("application/json"),
        b"{\"id\":2}",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let r = post(
        &s,
        "/contentListener",
        Some("application/json"),
        b"{\"id\":3}",
    )
    .await;
    assert_eq!(r.status, 404, "the default base path is gone");
    let r = send(s.client.head(s.url("/ingest/v1"))).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-nifi-transfer-protocol-version"), Some("3"));
    // Holds live under the configured base path too.
    let r = send(
        s.post("/ingest/v1")
            .header("content-type", "application/json")
            .header("x-prefer-acknowledge-uri", "true")
            .body("{\"id\":4}"),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let location = r.header("location").unwrap().to_owned();
    assert!(location.starts_with("/ingest/v1/holds/"), "{location}");
    let r = send(s.client.delete(s.url(&location))).await;
    assert_eq!(r.status, 200, "{}", r.text);

    let landed = s.landed().await;
    let got: Vec<_> = landed
        .iter()
        .map(|l| {
            (
                l.stream().to_owned(),
                l.record.clone(),
                l.attr("restlistener.request.uri").unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("customers".into(), json!({"id":1}), "/ingest/v1".into()),
            ("customers".into(), json!({"id":4}), "/ingest/v1".into()),
            ("orders".into(), json!({"id":2}), "/ingest/v1/orders".into()),
        ]
    );
}

/// A record with a key twice would make Snowflake skip the rest of its landed file (JSON,
/// ALLOW_DUPLICATE = FALSE, ON_ERROR = CONTINUE): it is refused at ingest like a record that
/// does not parse, naming the key and the line, and nothing of the request lands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_with_a_key_twice_is_refused_before_it_can_land() {
    let s = TestServer::start_default().await;
    let body = b"{\"id\":1}\n{\"id\":2,\"name\":\"a\",\"name\":\"b\"}\n{\"id\":3}\n";
    let r = post(&s, "/contentListener", Some("application/x-ndjson"), body).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(
        r.text.contains("\"name\" more than once") && r.text.contains("line 2"),
        "{}",
        r.text
    );
    // Nested objects and JSON arrays are checked too; distinct keys still pass.
    let r = post(
        &s,
        "/contentListener",
        Some("application/json"),
        b"[{\"id\":4,\"a\":{\"k\":1,\"k\":2}}]",
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    let r = post(
        &s,
        "/contentListener",
        Some("application/x-ndjson"),
        b"{\"id\":5,\"a\":{\"k\":1},\"b\":{\"k\":1}}\n",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let landed = s.landed().await;
    assert_eq!(landed.len(), 1, "only the record with distinct keys landed");
}
