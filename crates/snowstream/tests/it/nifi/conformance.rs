//! Conformance with the NiFi processors that send to a ListenHTTP, request for request, on
//! real sockets with the exact bytes (header case included) those clients write. Line numbers
//! are of the NiFi sources at the tags named.
//!
//! PostHTTP.java (nifi-standard-processors, rel/nifi-1.28.1), per `onTrigger`:
//! - lines 458-467: HttpClient with content compression off (no `Accept-Encoding`) and a
//!   `BasicCredentialsProvider` holding *Username*/*Password*, so credentials go only in
//!   answer to a `401` with `WWW-Authenticate: Basic`; line 524: a new `HttpClientContext`
//!   per trigger, whose auth cache the challenge fills, so a transfer's later requests carry
//!   `Authorization` preemptively.
//! - lines 527-532 and 861-866 (`getDestinationAcceptance`): `HEAD` of the URL, with only
//!   `x-nifi-transaction-id` when sending as FlowFile, **once per base URL** (the answer is
//!   cached in `destinationAcceptsMap`); lines 879-925 read `Accept` (FlowFile v3?),
//!   `x-nifi-transfer-protocol-version` and `Accept-Encoding` (gzip?). The replays here are
//!   each such first transfer (HEAD challenged, then POST and DELETE with credentials); every
//!   later transfer sends its POST without credentials, gets the 401 and resends the whole
//!   body, which `java_clients.rs` runs on the real HttpClient.
//! - lines 640-651: the body's length is unknown (chunked) unless raw, uncompressed and not
//!   chunked; lines 653-690: `Content-Type` `application/flowfile-v3`, or when not as
//!   FlowFile the *Content-Type* property (`${mime.type}`, blank: `application/octet-stream`)
//!   and the attributes matching *Attributes to Send as HTTP Headers (Regex)*, named as the
//!   attribute; lines 691-701: `x-prefer-acknowledge-uri: true`,
//!   `x-nifi-transfer-protocol-version: 3`, `x-nifi-transaction-id`, and with compression
//!   `flowfile-gzipped: true` (as FlowFile) or `Content-Encoding: gzip` (raw).
//! - lines 738-757: a `303` with `x-location-uri-intent: flowfile-hold` gives the hold
//!   `Location`; lines 790-813 resolve it against the posted URL (`/contentListener…` becomes
//!   `url + holdUri.substring(16)`); lines 815-826: `DELETE` it with `x-nifi-transaction-id`;
//!   a status of 300 or more fails the transfer.
//!
//! InvokeHTTP.java (rel/nifi-2.11.0): line 1094, `Content-Type` is *Request Content-Type*
//! (`${mime.type}`), `application/octet-stream` when blank; lines 1163-1201
//! (`setHeaderProperties`): `User-Agent`, each dynamic property (the sensitive
//! `Authorization: Bearer …`), then each attribute matching *Request Header Attributes
//! Pattern*, named exactly as the attribute. 2xx is success; no holds.
//!
//! ListenHTTP's side, ListenHTTPServlet.java (rel/nifi-1.28.1): `doHead` line 149, `doPost`
//! line 176, client certificates lines 220-238, package attributes line 366, the `filename`
//! header line 388, a fresh `uuid` line 399, `saveRequestDetailsAsAttributes` lines 464-471,
//! `addMatchingRequestHeaders` line 502; ContentAcknowledgmentServlet.java `doDelete` line 64,
//! `404` for a hold unknown or expired (lines 98, 141).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::support::nifi::Conn;
use crate::support::receiver::{Landed, TestServer, gzip, package};
use base64::Engine;
use regex::Regex;
use server::BasicUser;

const USER: &str = "nifi";
const PASSWORD: &str = "pa:ss-w0rd";
const TOKEN: &str = "invokehttp-token-5b1e";

fn basic(user: &str, password: &str) -> String {
    let creds = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {creds}")
}

/// PostHTTP's hold URI (see the module doc, step 3), as a path on the same host.
fn hold_path(posted: &str, location: &str) -> String {
    match location.strip_prefix("/contentListener") {
        Some(rest) => format!("{posted}{rest}"),
        None => location.to_owned(),
    }
}

async fn server() -> TestServer {
    TestServer::start_with(|setup| {
        setup.server.basic_auth = vec![BasicUser {
            user: USER.into(),
            password: PASSWORD.into(),
        }];
        setup.server.auth_token = Some(TOKEN.into());
        setup.server.headers_as_attributes = Some(
            regex::RegexBuilder::new("^(?:x-.*|tenant|uuid|filename)$")
                .case_insensitive(true)
                .build()
                .unwrap(),
        );
    })
    .await
}

/// One PostHTTP transfer of the record `{"id": id}`, as the module doc says, on `conn`.
async fn post_http(conn: &mut Conn, path: &str, id: u64, as_flowfile: bool, gzipped: bool) {
    let ua = ("User-Agent", "Apache-HttpClient/4.5.14 (Java/21.0.5)");
    let auth = basic(USER, PASSWORD);
    let tx = format!("tx-{id}");
    let tx_header = ("x-nifi-transaction-id", tx.as_str());
    // PostHTTP.java 861-866: HEAD, only the transaction id (as FlowFile), no credentials yet.
    let mut head_headers = vec![];
    if as_flowfile {
        head_headers.push(tx_header);
    }
    head_headers.push(ua);
    let head = conn.send("HEAD", path, &head_headers, None, false).await;
    // The challenge HttpClient needs before it sends credentials (lines 463-467).
    assert_eq!(head.status, 401, "{head:?}");
    assert!(
        head.all("www-authenticate")
            .contains(&"Basic realm=\"snowstream\""),
        "{head:?}"
    );
    // HttpClient repeats the HEAD with the credentials.
    head_headers.insert(0, ("Authorization", auth.as_str()));
    let head = conn.send("HEAD", path, &head_headers, None, false).await;
    assert_eq!(head.status, 200, "{head:?}");
    // Lines 879-925: what PostHTTP reads from the HEAD.
    assert!(
        head.header("accept")
            .unwrap()
            .contains("application/flowfile-v3")
    );
    assert_eq!(head.header("accept-encoding"), Some("gzip"));
    assert_eq!(head.header("x-nifi-transfer-protocol-version"), Some("3"));

    // Lines 640-701: the POST.
    let record = format!(r#"{{"id":{id}}}"#);
    let sent_uuid = format!("00000000-0000-4000-8000-{id:012}");
    let mut body = if as_flowfile {
        let name = format!("ff-{id}.json");
        let attrs = [
            ("path", "./"),
            ("filename", name.as_str()),
            ("uuid", sent_uuid.as_str()),
            ("mime.type", "application/json"),
        ];
        package(flowfile::Version::V3, &[(&attrs, record.as_bytes())])
    } else {
        record.clone().into_bytes()
    };
    if gzipped {
        body = gzip(&body);
    }
    let mut headers = vec![("Authorization", auth.as_str())];
    if as_flowfile {
        headers.push(("Content-Type", "application/flowfile-v3"));
    } else {
        // Lines 676-689: attributes as headers, named as the attribute: one in mixed case,
        // and a `uuid` that must not replace the fresh one. Line 691: the Content-Type.
        headers.push(("X-Tenant", "acme"));
        headers.push(("uuid", sent_uuid.as_str()));
        headers.push(("Content-Type", "application/json"));
    }
    headers.push(("x-prefer-acknowledge-uri", "true"));
    headers.push(("x-nifi-transfer-protocol-version", "3"));
    headers.push(tx_header);
    if gzipped {
        // Lines 696-700.
        headers.push(if as_flowfile {
            ("flowfile-gzipped", "true")
        } else {
            ("Content-Encoding", "gzip")
        });
    }
    headers.push(ua);
    // Lines 640-645: a known length only for a raw, uncompressed body.
    let chunked = as_flowfile || gzipped;
    let posted = conn
        .send("POST", path, &headers, Some(&body), chunked)
        .await;
    // Lines 738-757.
    assert_eq!(posted.status, 303, "{posted:?}");
    assert_eq!(
        posted.header("x-location-uri-intent"),
        Some("flowfile-hold")
    );
    let location = posted.header("location").expect("Location").to_owned();

    // Lines 790-826: DELETE the hold URI PostHTTP computes (ContentAcknowledgmentServlet
    // doDelete, line 64), 200 expected.
    let hold = hold_path(path, &location);
    let deleted = conn
        .send(
            "DELETE",
            &hold,
            &[("Authorization", &auth), tx_header, ua],
            None,
            false,
        )
        .await;
    assert_eq!(deleted.status, 200, "DELETE {hold}: {deleted:?}");
}

fn by_id(landed: &[Landed]) -> BTreeMap<u64, Vec<&Landed>> {
    let mut out: BTreeMap<u64, Vec<&Landed>> = BTreeMap::new();
    for l in landed {
        out.entry(l.record["id"].as_u64().unwrap())
            .or_default()
            .push(l);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posthttp_every_mode_on_base_and_stream_paths_lands_each_record_once() {
    let s = server().await;
    let mut conn = Conn::open(&s.base).await;
    let mut id = 0;
    let mut expect = BTreeMap::new();
    for path in ["/contentListener", "/contentListener/orders"] {
        for as_flowfile in [true, false] {
            for gzipped in [false, true] {
                id += 1;
                post_http(&mut conn, path, id, as_flowfile, gzipped).await;
                let stream = if path.ends_with("orders") {
                    "orders"
                } else {
                    "customers"
                };
                expect.insert(id, (stream, as_flowfile));
            }
        }
    }
    let landed = s.landed().await;
    let got = by_id(&landed);
    assert_eq!(got.len(), expect.len(), "{landed:?}");
    for (id, (stream, as_flowfile)) in &expect {
        let lines = &got[id];
        assert_eq!(lines.len(), 1, "record {id} landed exactly once");
        let l = lines[0];
        assert_eq!(l.stream(), *stream);
        let sent_uuid = format!("00000000-0000-4000-8000-{id:012}");
        let uuid = l.attr("uuid").unwrap();
        assert_ne!(uuid, sent_uuid, "a fresh uuid, never the sender's");
        assert_eq!(l.attr("restlistener.remote.user.dn"), Some("none"));
        assert!(l.attr("authorization").is_none() && l.attr("Authorization").is_none());
        if *as_flowfile {
            assert_eq!(l.attr("source.uuid"), Some(sent_uuid.as_str()));
            assert_eq!(l.attr("filename"), Some(format!("ff-{id}.json").as_str()));
        } else {
            // The header keeps the case the client wrote (ListenHTTPServlet.java line 502,
            // addMatchingRequestHeaders: `request.getHeaderNames()`).
            assert_eq!(l.attr("X-Tenant"), Some("acme"), "{:?}", l.meta);
            assert_eq!(l.attr("x-tenant"), None, "{:?}", l.meta);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_or_missing_credentials_are_refused_as_nifi_expects() {
    let s = server().await;
    let mut conn = Conn::open(&s.base).await;
    let body = br#"{"id":1}"#;
    let ct = ("Content-Type", "application/json");
    // PostHTTP must see the challenge on each of HEAD, POST and DELETE.
    let wrong = basic(USER, "nope");
    for auth in [None, Some(wrong.as_str()), Some("Bearer wrong-token")] {
        let mut h = vec![ct];
        if let Some(a) = auth {
            h.push(("Authorization", a));
        }
        for (method, path, body) in [
            ("HEAD", "/contentListener", None),
            ("POST", "/contentListener/orders", Some(&body[..])),
            ("DELETE", "/contentListener/orders/holds/x", None),
        ] {
            let r = conn.send(method, path, &h, body, false).await;
            assert_eq!(r.status, 401, "{method} {auth:?}: {r:?}");
            if method != "HEAD" {
                assert_eq!(r.body, "missing or wrong credentials\n");
            }
            assert_eq!(
                r.all("www-authenticate"),
                vec!["Basic realm=\"snowstream\"", "Bearer"],
                "{method}"
            );
        }
    }
    assert!(s.landed().await.is_empty(), "nothing refused lands");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invokehttp_with_bearer_and_attributes_as_headers() {
    let s = server().await;
    let mut conn = Conn::open(&s.base).await;
    let ua = ("User-Agent", "okhttp/4.12.0");
    for (i, path) in ["/contentListener", "/contentListener/orders"]
        .iter()
        .enumerate()
    {
        let body = format!("{{\"id\":{}}}\n{{\"id\":{}}}\n", 10 + i * 2, 11 + i * 2);
        let auth = format!("Bearer {TOKEN}");
        // InvokeHTTP.java 1163-1201: User-Agent, the dynamic `Authorization` property, each
        // attribute the pattern matches named as the attribute; line 1094: Content-Type.
        let r = conn
            .send(
                "POST",
                path,
                &[
                    ("Authorization", &auth),
                    ("X-Tenant", "acme"),
                    ("x-tenant", "second value is not kept"),
                    ("filename", "batch.ndjson"),
                    // ASCII only: OkHttp refuses to send a header value with any other
                    // character (okhttp3.Headers.checkValue, "Unexpected char"), so no
                    // InvokeHTTP request carries one.
                    ("X-City", "Zurich"),
                    ("Content-Type", "application/x-ndjson"),
                    ("Accept-Encoding", "gzip"),
                    ua,
                ],
                Some(body.as_bytes()),
                false,
            )
            .await;
        assert_eq!(r.status, 200, "{r:?}");
    }
    let landed = s.landed().await;
    let got = by_id(&landed);
    assert_eq!(
        got.keys().copied().collect::<Vec<_>>(),
        vec![10, 11, 12, 13]
    );
    for lines in got.values() {
        assert_eq!(lines.len(), 1);
        let l = lines[0];
        assert_eq!(
            l.attr("X-Tenant"),
            Some("acme"),
            "first value: {:?}",
            l.meta
        );
        assert_eq!(l.attr("X-City"), Some("Zurich"));
        assert_eq!(l.attr("filename"), Some("batch.ndjson"));
    }
    assert_eq!(got[&10][0].stream(), "customers");
    assert_eq!(got[&12][0].stream(), "orders");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_hold_lands_nothing_and_its_delete_is_404() {
    let s = TestServer::start_with(|setup| {
        setup.server.basic_auth = vec![BasicUser {
            user: USER.into(),
            password: PASSWORD.into(),
        }];
        setup.server.hold_timeout = Duration::from_millis(300);
    })
    .await;
    let mut conn = Conn::open(&s.base).await;
    let auth = basic(USER, PASSWORD);
    let path = "/contentListener/orders";
    let posted = conn
        .send(
            "POST",
            path,
            &[
                ("Authorization", &auth),
                ("x-prefer-acknowledge-uri", "true"),
                ("Content-Type", "application/json"),
            ],
            Some(br#"{"id":99}"#),
            true,
        )
        .await;
    assert_eq!(posted.status, 303, "{posted:?}");
    let hold = hold_path(path, posted.header("location").unwrap());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // ContentAcknowledgmentServlet.java lines 98/141: an expired hold is 404, and PostHTTP
    // (line 826) fails the transfer; it resends the FlowFile later.
    let deleted = conn
        .send("DELETE", &hold, &[("Authorization", &auth)], None, false)
        .await;
    assert_eq!(deleted.status, 404, "{deleted:?}");
    assert!(s.landed().await.is_empty());
}

#[test]
fn the_dn_pattern_is_anchored_like_javas_matches() {
    // ListenHTTPServlet.java line 227: `authorizedPattern.matcher(foundSubject).matches()` is a
    // whole-string match; resolve.rs anchors the pattern the same way.
    let re = Regex::new("^(?:CN=nifi)$").unwrap();
    assert!(re.is_match("CN=nifi"));
    assert!(!re.is_match("CN=nifi,O=evil"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn octet_stream_or_no_type_means_the_streams_format() {
    // InvokeHTTP behind a ListenHTTP that never set mime.type: `${mime.type}` is blank, and
    // InvokeHTTP.java line 1094 sends application/octet-stream; other clients send no type.
    let s = TestServer::start_with(|setup| {
        setup.server.auth_token = Some(TOKEN.into());
        setup.server.streams.insert(
            "orders".into(),
            server::StreamOptions {
                format: records::Format::Csv,
                ..Default::default()
            },
        );
    })
    .await;
    let mut conn = Conn::open(&s.base).await;
    let auth = format!("Bearer {TOKEN}");
    for (i, ct) in [Some("application/octet-stream"), None]
        .into_iter()
        .enumerate()
    {
        let body = format!("id,name\n{},csv through nifi\n", 20 + i);
        let mut h = vec![("Authorization", auth.as_str())];
        if let Some(ct) = ct {
            h.push(("Content-Type", ct));
        }
        let r = conn
            .send(
                "POST",
                "/contentListener/orders",
                &h,
                Some(body.as_bytes()),
                false,
            )
            .await;
        assert_eq!(r.status, 200, "{ct:?}: {r:?}");
    }
    let landed = s.landed().await;
    let names: Vec<_> = landed
        .iter()
        .map(|l| l.record["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["csv through nifi"; 2]);
}
