//! No poison pill: a stream with `on_parse_error = "dead-letter"` sets a FlowFile whose
//! content does not parse aside whole under `{prefix}/{stream}/_dead_letter/dt=…/hh=…/`, with
//! a sidecar holding its attributes and the reason, and accepts the request's other
//! FlowFiles; `snowstream_dead_letter_flowfiles_total{stream}` counts them. A stream with the
//! default policy still refuses the whole request with 400 and keeps nothing of it.
//!
//! The batch is sent as NiFi 1.x PostHTTP sends one (PostHTTP.java at rel/nifi-1.28.1,
//! `onTrigger`): FlowFiles packaged back to back with FlowFilePackagerV3 under
//! `Content-Type: application/flowfile-v3`, with `x-prefer-acknowledge-uri: true`. An answer
//! other than 303 below 300 is success for PostHTTP (`if (holdUri == null)` … `REL_SUCCESS`),
//! which is what a request with dead letters gets: they are landed already, so no hold.

use crate::support::dead_letter::{batch_with_one_bad, dead_letter_options};
use crate::support::receiver::{Reply, TestServer, package, records, send};
use crate::support::whole::read_wholes;
use flowfile::Version;
use serde_json::json;

/// `customers` dead-letters, `orders` has the default policy (reject).
async fn start(sink_up: bool) -> TestServer {
    TestServer::start_with(|s| {
        s.server
            .streams
            .insert("customers".into(), dead_letter_options());
        s.sink_up = sink_up;
    })
    .await
}

async fn post_batch(s: &TestServer, stream: &str, body: Vec<u8>) -> Reply {
    send(
        s.post(&format!("/contentListener/{stream}"))
            .header("content-type", Version::V3.mime())
            .header("x-prefer-acknowledge-uri", "true")
            .header("x-nifi-transfer-protocol-version", "3")
            .body(body),
    )
    .await
}

#[tokio::test]
async fn the_bad_flowfile_is_set_aside_with_its_reason_and_the_good_ones_land() {
    let s = start(true).await;
    let r = post_batch(&s, "customers", batch_with_one_bad()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.header("location").is_none(),
        "no hold once a dead letter landed"
    );
    assert_eq!(r.header("x-snowstream-dead-letters"), Some("1"));
    assert!(r.text.starts_with("accepted 2 records"), "{}", r.text);

    // The dead letter is in the sink already, whole, with its attributes and the reason.
    let dead = read_wholes(s.landing_dir(), "customers/_dead_letter");
    assert_eq!(dead.len(), 1, "{dead:?}");
    let d = &dead[0];
    assert_eq!(d.content, b"{\"id\":2}\n{\"id\":3\n");
    assert!(d.key.ends_with(".ndjson"), "{}", d.key);
    assert_eq!(d.attr("filename"), Some("bad.ndjson"));
    assert_eq!(d.attr("kafka.topic"), Some("customers"));
    let error = d.meta["error"].as_str().expect("the reason");
    assert!(
        error.starts_with("FlowFile 2 \"bad.ndjson\" is not valid ndjson: line 2 (record 2)"),
        "{error}"
    );

    // Only the good FlowFiles' records landed: none of the bad one's, not even its first.
    let landed = s.landed().await;
    assert_eq!(
        records(&landed),
        [json!({"id": 1}), json!({"id": "4", "name": "Ann"})]
    );
    let names: Vec<&str> = landed.iter().filter_map(|l| l.attr("filename")).collect();
    assert_eq!(names, ["ok.json", "good.csv"]);
}

#[tokio::test]
async fn the_default_policy_still_refuses_the_whole_batch() {
    let s = start(true).await;
    let r = post_batch(&s, "orders", batch_with_one_bad()).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(
        r.text.contains("FlowFile 2 \"bad.ndjson\""),
        "names the bad one: {}",
        r.text
    );
    assert!(s.landed().await.is_empty(), "nothing of the batch is kept");
    assert!(!s.landing_dir().join("orders").exists());
}

#[tokio::test]
async fn a_raw_body_that_does_not_parse_is_a_dead_letter_too() {
    let s = start(true).await;
    let r = send(
        s.post("/contentListener/customers")
            .header("content-type", "application/json")
            .header("filename", "broken.json")
            .body("{\"id\": oops}"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("x-snowstream-dead-letters"), Some("1"));
    let dead = read_wholes(s.landing_dir(), "customers/_dead_letter");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].content, b"{\"id\": oops}");
    assert_eq!(dead[0].attr("filename"), Some("broken.json"));
    assert!(
        dead[0].meta["error"]
            .as_str()
            .unwrap()
            .starts_with("body is not valid json")
    );
    assert!(s.landed().await.is_empty());

    // All good: no dead letters, and the hold PostHTTP asked for is offered as before.
    let r = post_batch(
        &s,
        "customers",
        package(
            Version::V3,
            &[(&[("filename", "nine.json")], b"{\"id\":9}")],
        ),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert!(r.header("x-snowstream-dead-letters").is_none());
}

#[tokio::test]
async fn a_sink_that_is_down_refuses_the_batch_and_the_retry_lands_it_once() {
    let s = start(false).await;
    let r = post_batch(&s, "customers", batch_with_one_bad()).await;
    assert_eq!(r.status, 503, "{}", r.text);
    assert!(read_wholes(s.landing_dir(), "customers/_dead_letter").is_empty());

    s.sink.set_up(true);
    let r = post_batch(&s, "customers", batch_with_one_bad()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        read_wholes(s.landing_dir(), "customers/_dead_letter").len(),
        1
    );
    let ids: Vec<_> = records(&s.landed().await)
        .iter()
        .map(|r| r["id"].clone())
        .collect();
    assert_eq!(ids, [json!(1), json!("4")], "the good records once");
}
