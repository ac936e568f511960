//! Pass-through over HTTP: a pass-through stream lands each FlowFile's content whole, byte for
//! byte, under `{prefix}/{stream}/_passthrough/http/dt=…/hh=…/{uuid}[.ext]`, with its
//! attributes in the `.attributes.json` sidecar beside it, and answers only once both are in
//! the sink.
//!
//! Requests are sent as NiFi 1.x PostHTTP sends them (PostHTTP.java at rel/nifi-1.28.1,
//! `onTrigger`): `Content-Type: application/flowfile-v3` (or `-v2`), `x-prefer-acknowledge-uri:
//! true` (FLOWFILE_CONFIRMATION_HEADER), `x-nifi-transfer-protocol-version: 3`, and, when
//! compressing a FlowFile package, `flowfile-gzipped: true` ("if (sendAsFlowFile)
//! post.setHeader(GZIPPED_HEADER, "true")"). A 200 with no hold is success for PostHTTP
//! (`if (holdUri == null)` … `REL_SUCCESS`), so no DELETE follows.

use std::collections::HashMap;

use crate::support::receiver::{Reply, TestServer, fixture, gzip, is_uuid_v8, send};
use crate::support::whole::{
    PASS_THROUGH as STREAM, PASS_THROUGH_AREA as AREA, Whole, add_pass_through, read_wholes,
    sha256_hex,
};
use flowfile::Version;
use serde_json::Value;

/// Streams `customers` and `orders` (parsed) and `files` (prefix `pt`, pass-through).
async fn start(sink_up: bool) -> TestServer {
    start_with_headers(sink_up, None).await
}

/// [`start`], copying the request headers that match `headers` into the attributes.
async fn start_with_headers(sink_up: bool, headers: Option<&str>) -> TestServer {
    TestServer::start_with(|s| {
        s.server.headers_as_attributes = headers.map(|r| regex::Regex::new(r).unwrap());
        add_pass_through(s);
        s.sink_up = sink_up;
    })
    .await
}

/// POSTs `body` to the pass-through stream as PostHTTP does with Send as FlowFile on.
async fn post_http(s: &TestServer, version: Version, body: Vec<u8>, gzipped: bool) -> Reply {
    let mut req = s
        .post(&format!("/contentListener/{STREAM}"))
        .header("content-type", version.mime())
        .header("x-prefer-acknowledge-uri", "true")
        .header("x-nifi-transfer-protocol-version", "3")
        .header("x-nifi-transaction-id", uuid::Uuid::new_v4().to_string());
    let body = if gzipped {
        req = req.header("flowfile-gzipped", "true");
        gzip(&body)
    } else {
        body
    };
    send(req.body(body)).await
}

fn wholes(s: &TestServer) -> Vec<Whole> {
    read_wholes(s.landing_dir(), AREA)
}

/// One manifest FlowFile: attributes (a later duplicate wins, as in NiFi's map), length, hash.
struct Expected {
    attributes: HashMap<String, String>,
    content_len: u64,
    content_sha256: String,
}

fn expected_flowfiles(entry: &Value) -> Vec<Expected> {
    entry["flowfiles"]
        .as_array()
        .expect("flowfiles")
        .iter()
        .map(|f| Expected {
            attributes: f["attributes"]
                .as_array()
                .expect("attributes")
                .iter()
                .map(|kv| {
                    (
                        kv[0].as_str().unwrap().to_owned(),
                        kv[1].as_str().unwrap().to_owned(),
                    )
                })
                .collect(),
            content_len: f["content_len"].as_u64().unwrap(),
            content_sha256: f["content_sha256"].as_str().unwrap().to_owned(),
        })
        .collect()
}

/// Whether `w` is the landing of `e`: same content, and every attribute sent kept, but the
/// sender's `uuid`, which ListenHTTP keeps as `source.uuid` while the FlowFile gets a fresh one.
fn is_landing_of(w: &Whole, e: &Expected) -> bool {
    w.content.len() as u64 == e.content_len
        && sha256_hex(&w.content) == e.content_sha256
        && e.attributes.iter().all(|(k, v)| match k.as_str() {
            "uuid" => w.attr("source.uuid") == Some(v),
            _ => w.attr(k) == Some(v),
        })
}

#[tokio::test]
async fn every_nifi_fixture_lands_whole_with_its_attributes_exactly_once() {
    let manifest: Vec<Value> =
        serde_json::from_slice(&fixture("manifest.json")).expect("manifest.json");
    assert!(manifest.len() >= 13, "the NiFi-made fixtures are there");
    let s = start(true).await;
    let mut seen: Vec<String> = Vec::new();
    let mut total = 0;
    for (i, entry) in manifest.iter().enumerate() {
        let file = entry["file"].as_str().unwrap();
        let version = match entry["format"].as_str().unwrap() {
            "v3" => Version::V3,
            _ => Version::V2,
        };
        let gzipped = i % 2 == 1;
        let r = post_http(&s, version, fixture(file), gzipped).await;
        assert_eq!(r.status, 200, "{file}: {}", r.text);
        assert!(r.header("location").is_none(), "{file}: no hold is offered");
        let expected = expected_flowfiles(entry);
        assert!(
            r.text
                .starts_with(&format!("landed {} FlowFile", expected.len())),
            "{file}: {}",
            r.text
        );
        // The 200 came once everything was in the sink: read it now, with no flush.
        let new: Vec<Whole> = wholes(&s)
            .into_iter()
            .filter(|w| !seen.contains(&w.key))
            .collect();
        assert_eq!(new.len(), expected.len(), "{file}: one object per FlowFile");
        for e in &expected {
            let matching: Vec<&Whole> = new.iter().filter(|w| is_landing_of(w, e)).collect();
            assert_eq!(
                matching.len(),
                1,
                "{file}: FlowFile {:?} landed once, byte for byte, with its attributes",
                e.attributes.get("filename")
            );
            let w = matching[0];
            let uuid = w.attr("uuid").expect("a uuid made here");
            assert!(is_uuid_v8(uuid), "{file}: {uuid}");
            let name = w.key.rsplit('/').next().unwrap();
            assert!(
                name.starts_with(uuid),
                "{file}: key {} names the uuid",
                w.key
            );
            assert_eq!(w.meta["stream"], STREAM);
            assert_eq!(w.attr("restlistener.remote.source.host"), Some("127.0.0.1"));
            assert_eq!(
                w.attr("restlistener.request.uri"),
                Some("/contentListener/files")
            );
        }
        seen.extend(new.into_iter().map(|w| w.key));
        total += expected.len();
    }
    // Exactly once in all: as many objects as FlowFiles sent, and nothing parsed into records.
    assert_eq!(wholes(&s).len(), total);
    assert!(
        s.landed().await.is_empty(),
        "no batch file for a pass-through stream"
    );
}

#[tokio::test]
async fn extensions_survive_and_a_raw_body_lands_decompressed_with_its_headers() {
    let s = start(true).await;
    // A raw body, as InvokeHTTP sends one FlowFile with its attributes as headers.
    let pdf: Vec<u8> = b"%PDF-1.7\n\x00\xff\xfe binary"
        .iter()
        .copied()
        .chain((0..=255u8).cycle().take(5_000))
        .collect();
    let r = send(
        s.post(&format!("/contentListener/{STREAM}"))
            .header("content-type", "application/pdf")
            .header("content-encoding", "gzip")
            .header("filename", "Quarterly Report.PDF")
            .body(gzip(&pdf)),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let w = wholes(&s);
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].content, pdf, "the content as sent, before gzip");
    assert!(w[0].key.ends_with(".pdf"), "{}", w[0].key);
    assert!(w[0].key.starts_with(&format!("{AREA}/dt=")), "{}", w[0].key);
    assert_eq!(w[0].attr("filename"), Some("Quarterly Report.PDF"));
    assert_eq!(w[0].attr("mime.type"), Some("application/pdf"));
    assert_eq!(w[0].attr("path"), Some("./"));

    // Content that a parsed stream would refuse is fine here; the parsed stream still refuses.
    let r = send(
        s.post("/contentListener/customers")
            .header("content-type", "application/pdf")
            .body(pdf.clone()),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
}

#[tokio::test]
async fn a_sink_that_is_down_gives_503_and_the_retry_lands_once() {
    let s = start(false).await;
    let body = fixture("three_json.v3.bin");
    let r = post_http(&s, Version::V3, body.clone(), false).await;
    assert_eq!(r.status, 503, "{}", r.text);
    assert_eq!(r.header("retry-after"), Some("5"));
    assert!(wholes(&s).is_empty(), "nothing acknowledged, nothing whole");

    s.sink.set_up(true);
    let r = post_http(&s, Version::V3, body, true).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let w = wholes(&s);
    assert_eq!(w.len(), 3, "the retry landed each FlowFile once");
    let mut names: Vec<&str> = w.iter().filter_map(|w| w.attr("filename")).collect();
    names.sort();
    assert_eq!(names, ["a.json", "b.json", "c.json"]);
}

#[tokio::test]
async fn an_invalid_package_is_refused_and_lands_nothing() {
    let invalid: Vec<Value> =
        serde_json::from_slice(&fixture("invalid.json")).expect("invalid.json");
    let s = start(true).await;
    for entry in &invalid {
        let file = entry["file"].as_str().unwrap();
        let version = match entry["format"].as_str().unwrap() {
            "v3" => Version::V3,
            _ => Version::V2,
        };
        let r = post_http(&s, version, fixture(file), false).await;
        assert_eq!(r.status, 400, "{file}: {}", r.text);
    }
    assert!(!s.landing_dir().join("pt").exists(), "nothing landed");
}

#[tokio::test]
async fn a_client_chosen_uuid_never_names_a_key_so_nothing_is_overwritten() {
    // Even a header regex that copies a client's `uuid` header cannot make two FlowFiles
    // share a key: keys are named by a uuid snowstream makes, which is the FlowFile's `uuid`.
    let s = start_with_headers(true, Some("(?i)^uuid$")).await;
    for body in [&b"first"[..], &b"second"[..]] {
        let r = send(
            s.post(&format!("/contentListener/{STREAM}"))
                .header("content-type", "application/octet-stream")
                .header("uuid", "00000000-0000-4000-8000-000000000000")
                .body(body.to_vec()),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let w = wholes(&s);
    assert_eq!(w.len(), 2, "both kept: {w:?}");
    let mut contents: Vec<&[u8]> = w.iter().map(|w| w.content.as_slice()).collect();
    contents.sort();
    assert_eq!(contents, [&b"first"[..], &b"second"[..]]);
    for w in &w {
        let uuid = w.attr("uuid").unwrap();
        assert!(is_uuid_v8(uuid) && uuid != "00000000-0000-4000-8000-000000000000");
        assert!(
            w.key.rsplit('/').next().unwrap().starts_with(uuid),
            "{}",
            w.key
        );
    }
}

/// A `multipart/form-data` request to a pass-through stream (ListenHTTPServlet.java at
/// rel/nifi-1.28.1 lines 303-339: a FlowFile per part): each part lands whole, its key taking
/// the extension of the part's own file name, its sidecar holding the part's attributes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_form_part_lands_whole_with_its_part_attributes() {
    let s = start(true).await;
    let pdf: &[u8] = b"%PDF-1.7\n\x00\xff binary \r\n--not-the-boundary\r\n";
    let mut body = Vec::new();
    body.extend_from_slice(b"--B0undary\r\nContent-Disposition: form-data; name=\"source\"\r\n");
    body.extend_from_slice(b"Content-Length: 4\r\n\r\neast\r\n");
    body.extend_from_slice(b"--B0undary\r\nContent-Disposition: form-data; name=\"doc\"; ");
    body.extend_from_slice(b"filename=\"Report.PDF\"\r\nContent-Type: application/pdf\r\n\r\n");
    body.extend_from_slice(pdf);
    body.extend_from_slice(b"\r\n--B0undary--\r\n");
    let r = send(
        s.post(&format!("/contentListener/{STREAM}"))
            .header("content-type", "multipart/form-data; boundary=B0undary")
            .body(body),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let mut landed = wholes(&s);
    landed.sort_by_key(|w| {
        w.attr("http.multipart.fragments.sequence.number")
            .map(str::to_owned)
    });
    assert_eq!(
        landed.len(),
        2,
        "{:?}",
        landed.iter().map(|w| &w.key).collect::<Vec<_>>()
    );
    let (field, doc) = (&landed[0], &landed[1]);
    assert_eq!(field.content, b"east");
    assert_eq!(field.attr("http.multipart.name"), Some("source"));
    assert_eq!(field.attr("http.multipart.filename"), None);
    assert_eq!(doc.content, pdf);
    assert!(doc.key.ends_with(".pdf"), "{}", doc.key);
    assert_eq!(doc.attr("http.multipart.filename"), Some("Report.PDF"));
    assert_eq!(
        doc.attr("http.multipart.content.type"),
        Some("application/pdf")
    );
    assert_eq!(doc.attr("http.multipart.fragments.total.number"), Some("2"));
    assert_eq!(
        doc.attr("http.multipart.size"),
        Some(&*pdf.len().to_string())
    );
}
