//! `multipart/form-data` requests, as NiFi's ListenHTTP takes them and InvokeHTTP sends them.
//!
//! ListenHTTPServlet.java (rel/nifi-1.28.1) lines 266-271 route a request whose Content-Type
//! contains `multipart/form-data` to `handleMultipartRequest` (lines 303-324): one FlowFile
//! per part, with the request's attributes and, from `savePartDetailsAsAttributes` (lines
//! 326-339), `http.headers.multipart.{header}`, `http.multipart.size`,
//! `http.multipart.content.type`, `http.multipart.name`, `http.multipart.filename` and
//! `http.multipart.fragments.sequence.number` / `.total.number`; absent values are not set
//! (`putAttribute` skips nulls, lines 516-530).
//!
//! The bodies are written as OkHttp's `MultipartBody` writes them for InvokeHTTP
//! (InvokeHTTP.java at rel/nifi-1.28.1 lines 1139-1155: `setType(MultipartBody.FORM)`, a
//! text part per `post:form:` property, the FlowFile as the part named by *Request Multipart
//! Form-Data Name* with its `filename`): a `Content-Disposition` and, when known, a
//! `Content-Type` and a `Content-Length` per part, CRLF line ends.

use crate::support::receiver::{self, Reply, TestServer, send};

const BOUNDARY: &str = "c1d2e3f4-okhttp-boundary";

/// One part: its name, file name and Content-Type (if any), and its bytes.
struct Part<'a> {
    name: &'a str,
    filename: Option<&'a str>,
    content_type: Option<&'a str>,
    body: &'a [u8],
}

/// A form body as OkHttp writes it.
fn form(parts: &[Part<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in parts {
        out.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        let mut disposition = format!("form-data; name=\"{}\"", p.name);
        if let Some(f) = p.filename {
            disposition.push_str(&format!("; filename=\"{f}\""));
        }
        out.extend_from_slice(format!("Content-Disposition: {disposition}\r\n").as_bytes());
        if let Some(ct) = p.content_type {
            out.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
        }
        out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", p.body.len()).as_bytes());
        out.extend_from_slice(p.body);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    out
}

async fn post_form(s: &TestServer, body: Vec<u8>) -> Reply {
    send(form_request(s, body)).await
}

fn form_request(s: &TestServer, body: Vec<u8>) -> reqwest::RequestBuilder {
    s.post("/contentListener/customers")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body)
}

const NDJSON: &[u8] = b"{\"id\":1,\"name\":\"Ada\"}\n{\"id\":2,\"name\":\"Grace\"}\n";
const CSV: &[u8] = b"id,name\n3,Edsger\n4,Barbara\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_part_is_a_flowfile_with_its_part_attributes() {
    let s = TestServer::start_default().await;
    let body = form(&[
        Part {
            name: "customers",
            filename: Some("batch-1.ndjson"),
            content_type: Some("application/x-ndjson"),
            body: NDJSON,
        },
        // No record Content-Type: the file name's extension says CSV.
        Part {
            name: "more",
            filename: Some("more.csv"),
            content_type: Some("application/octet-stream"),
            body: CSV,
        },
    ]);
    // A `filename` header names a raw body's FlowFile, not a form's parts: ListenHTTPServlet
    // reads it in `handleRequest` (line 388) only.
    let r = send(form_request(&s, body).header("filename", "from-the-header.json")).await;
    assert_eq!(r.status, 200, "{}", r.text);

    let landed = s.landed().await;
    let names: Vec<_> = landed.iter().map(|l| l.record["name"].clone()).collect();
    assert_eq!(names, ["Ada", "Grace", "Edsger", "Barbara"], "{landed:?}");
    assert_eq!(landed[2].record["id"], "3", "CSV values are strings");
    let first = &landed[0];
    let disposition = "form-data; name=\"customers\"; filename=\"batch-1.ndjson\"";
    for (key, want) in [
        ("http.multipart.name", "customers"),
        ("http.multipart.filename", "batch-1.ndjson"),
        ("http.multipart.content.type", "application/x-ndjson"),
        ("http.multipart.size", &NDJSON.len().to_string()),
        ("http.multipart.fragments.sequence.number", "1"),
        ("http.multipart.fragments.total.number", "2"),
        ("http.headers.multipart.content-disposition", disposition),
        (
            "http.headers.multipart.content-type",
            "application/x-ndjson",
        ),
        (
            "http.headers.multipart.content-length",
            &NDJSON.len().to_string(),
        ),
        ("path", "./"),
    ] {
        assert_eq!(first.attr(key), Some(want), "{key}");
    }
    // A part is a new FlowFile: no `mime.type` of the request's, a fresh uuid, and the
    // request's own attributes, as any FlowFile gets them.
    assert_eq!(first.attr("mime.type"), None);
    let filename = first.attr("filename").unwrap();
    assert!(filename.bytes().all(|b| b.is_ascii_digit()), "{filename}");
    assert!(receiver::is_uuid_v4(first.attr("uuid").unwrap()));
    assert!(first.attr("restlistener.remote.source.host").is_some());
    let third = &landed[2];
    assert_eq!(
        third.attr("http.multipart.fragments.sequence.number"),
        Some("2")
    );
    assert_eq!(third.attr("http.multipart.filename"), Some("more.csv"));
    assert_ne!(first.attr("uuid"), third.attr("uuid"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_field_in_a_record_stream_is_refused_by_name() {
    let s = TestServer::start_default().await;
    // InvokeHTTP with a `post:form:source` property beside the FlowFile: in ListenHTTP both
    // are FlowFiles; in a record stream the text field must hold records too.
    let r = post_form(
        &s,
        form(&[
            Part {
                name: "source",
                filename: None,
                content_type: None,
                body: b"nifi-east",
            },
            Part {
                name: "customers",
                filename: Some("batch.ndjson"),
                content_type: Some("application/x-ndjson"),
                body: NDJSON,
            },
        ]),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("form part 1 (\"source\")"), "{}", r.text);
    assert!(s.landed().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_form_is_a_400_with_the_reason_and_lands_nothing() {
    let s = TestServer::start_default().await;
    let whole = form(&[Part {
        name: "customers",
        filename: Some("a.ndjson"),
        content_type: None,
        body: NDJSON,
    }]);
    let cut = whole[..whole.len() - 20].to_vec();
    for (what, content_type, body) in [
        (
            "no boundary",
            "multipart/form-data".to_owned(),
            whole.clone(),
        ),
        (
            "cut short",
            format!("multipart/form-data; boundary={BOUNDARY}"),
            cut,
        ),
        (
            "no part",
            format!("multipart/form-data; boundary={BOUNDARY}"),
            format!("--{BOUNDARY}--\r\n").into_bytes(),
        ),
    ] {
        let r = send(
            s.post("/contentListener/customers")
                .header("content-type", content_type)
                .body(body),
        )
        .await;
        assert_eq!(r.status, 400, "{what}: {}", r.text);
        assert!(r.text.contains("multipart/form-data"), "{what}: {}", r.text);
    }
    assert!(s.landed().await.is_empty());
    // The same form, whole, is taken.
    assert_eq!(post_form(&s, whole).await.status, 200);
    assert_eq!(s.landed().await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_parts_than_a_request_may_carry_is_a_413() {
    let s = TestServer::start_with(|s| s.server.max_flowfiles_per_request = 1).await;
    let part = |name| Part {
        name,
        filename: Some("a.ndjson"),
        content_type: None,
        body: NDJSON,
    };
    let r = post_form(&s, form(&[part("a"), part("b")])).await;
    assert_eq!(r.status, 413, "{}", r.text);
    assert!(r.text.contains("--max-flowfiles-per-request"), "{}", r.text);
    assert_eq!(post_form(&s, form(&[part("a")])).await.status, 200);
}
