//! A pass-through request that fails part-way, then the client's retry (issue 22): the
//! FlowFiles already landed (content and sidecar) and the one whose sidecar failed are found
//! under the keys they already have, so each lands once, with no orphan content.
//!
//! The first request fails as PostHTTP sees a sink outage (PostHTTP.java at rel/nifi-1.28.1,
//! `onTrigger`: a response other than 2xx routes the FlowFiles to failure, and NiFi sends
//! them again, the same package with the same FlowFile uuids); InvokeHTTP re-sends the same
//! raw body with the same headers. The fault is the failpoint `passthrough-sidecar-put`.

use crate::support::receiver::{TestServer, fixture, send};
use crate::support::whole::{
    self, PASS_THROUGH as STREAM, PASS_THROUGH_AREA as AREA, add_pass_through, read_wholes,
};

async fn start() -> TestServer {
    TestServer::start_with(add_pass_through).await
}

/// Every file under the pass-through area: contents and sidecars.
fn objects(s: &TestServer) -> usize {
    let mut n = 0;
    let mut stack = vec![s.landing_dir().join(AREA)];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                n += 1;
            }
        }
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_a_partial_failure_lands_each_flowfile_once() {
    let _alone = crate::alone();
    let scenario = fail::FailScenario::setup();
    let s = start().await;

    // A NiFi-made package of three FlowFiles; the third sidecar put fails.
    let package = fixture("three_json.v3.bin");
    let post = || {
        s.post(&format!("/contentListener/{STREAM}"))
            .header("content-type", "application/flowfile-v3")
            .header("x-nifi-transfer-protocol-version", "3")
            .body(package.clone())
    };
    fail::cfg("passthrough-sidecar-put", "2*off->1*return->off").unwrap();
    let r = send(post()).await;
    assert_eq!(r.status, 503, "{}", r.text);
    // Two FlowFiles landed whole and a third's content: what a retry used to land again.
    assert_eq!(
        objects(&s),
        5,
        "two contents with sidecars, one content alone"
    );
    fail::remove("passthrough-sidecar-put");
    let r = send(post()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let w = read_wholes(s.landing_dir(), AREA);
    assert_eq!(w.len(), 3, "each FlowFile once: {:?}", keys(&w));
    assert_eq!(objects(&s), 6, "no orphan content, nothing twice");
    let mut names: Vec<&str> = w.iter().filter_map(|w| w.attr("filename")).collect();
    names.sort();
    assert_eq!(names, ["a.json", "b.json", "c.json"]);

    // A raw body with no `filename` header (ListenHTTP names it by a timestamp, another on
    // the retry): the content lands, its sidecar fails, the retry adopts the content.
    let raw = || {
        s.post(&format!("/contentListener/{STREAM}"))
            .header("content-type", "application/octet-stream")
            .header("x-source", "invokehttp")
            .body(&b"raw bytes \x00\x01"[..])
    };
    fail::cfg("passthrough-sidecar-put", "1*return->off").unwrap();
    let r = send(raw()).await;
    assert_eq!(r.status, 503, "{}", r.text);
    fail::remove("passthrough-sidecar-put");
    let r = send(raw()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(read_wholes(s.landing_dir(), AREA).len(), 4);
    assert_eq!(objects(&s), 8, "the raw body landed once");

    // Other bytes are another FlowFile: both land.
    let r = send(
        s.post(&format!("/contentListener/{STREAM}"))
            .header("content-type", "application/octet-stream")
            .body(&b"other bytes"[..]),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(read_wholes(s.landing_dir(), AREA).len(), 5);
    scenario.teardown();
}

fn keys(w: &[whole::Whole]) -> Vec<&str> {
    w.iter().map(|w| w.key.as_str()).collect()
}
