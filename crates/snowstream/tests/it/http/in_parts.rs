//! Requests received in parts: a raw NDJSON or CSV body, or a FlowFile package, is parsed as
//! it arrives and goes to the spool a part (~4 MiB) at a time, then is appended as one run
//! and acknowledged once durable. Over real HTTP: a body larger than the whole body budget is
//! accepted (it is never held whole), every record lands once with its request's attributes,
//! and a request refused part-way (a bad line, the size limit) lands nothing and uses no
//! sequence number.

use std::collections::HashSet;

use crate::support::receiver::{Reply, TestServer, gzip, package, post_as};

const MIB: usize = 1 << 20;

/// NDJSON records with ids `0..`, about `bytes` long; the ids.
fn ndjson(bytes: usize) -> (Vec<u8>, u64) {
    let mut out = Vec::with_capacity(bytes + 256);
    let mut n = 0u64;
    while out.len() < bytes {
        out.extend_from_slice(
            format!(
                "{{\"id\":{n},\"name\":\"customer-{n}\",\"note\":\"{:0>96}\"}}\n",
                n
            )
            .as_bytes(),
        );
        n += 1;
    }
    (out, n)
}

/// A server whose body budget (8 MiB) is smaller than the bodies sent here (12+ MiB): read
/// whole, they would be refused with 503.
async fn server() -> TestServer {
    TestServer::start_with(|s| {
        s.server.body_budget = server::BodyBudget::new(8 * MIB as u64);
        s.spool_max_bytes = 512 * MIB as u64;
    })
    .await
}

fn ids(records: &[serde_json::Value]) -> Vec<u64> {
    records.iter().map(|r| r["id"].as_u64().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_larger_than_the_body_budget_lands_whole_in_parts() {
    let s = server().await;
    let (body, n) = ndjson(12 * MIB);
    let r = post_as(&s, "application/x-ndjson", &[("x-tenant", "acme")], body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.seqs(),
        Some((1, n)),
        "one receipt for every record: {}",
        r.text
    );
    let landed = s.landed().await;
    assert_eq!(
        ids(&crate::support::receiver::records(&landed)),
        (0..n).collect::<Vec<_>>(),
        "every record once, in order"
    );
    // One request, one FlowFile: every part carries its attributes and its received time.
    let uuids: HashSet<_> = landed.iter().map(|l| l.attr("uuid").unwrap()).collect();
    let times: HashSet<_> = landed
        .iter()
        .map(|l| l.meta["received_at"].to_string())
        .collect();
    assert_eq!((uuids.len(), times.len()), (1, 1));
    let seqs: Vec<u64> = landed.iter().map(|l| l.seq()).collect();
    assert_eq!(seqs, (1..=n).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_and_csv_bodies_are_cut_between_records() {
    let s = server().await;
    let (body, n) = ndjson(12 * MIB);
    let r = post_as(
        &s,
        "application/x-ndjson",
        &[("content-encoding", "gzip")],
        gzip(&body),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let (rows, pad) = (60_000u64, "p".repeat(200));
    let mut csv = b"id,city,pad\n".to_vec();
    for i in 0..rows {
        // A quoted field with a line break: a cut between records never falls inside it.
        csv.extend_from_slice(format!("{i},\"Zurich\nnorth {i:0>8}\",{pad}\n").as_bytes());
    }
    assert!(csv.len() > 12 * MIB, "{}", csv.len());
    let r = post_as(&s, "text/csv", &[], csv).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.seqs(), Some((n + 1, n + rows)), "{}", r.text);
    let records = crate::support::receiver::records(&s.landed().await);
    assert_eq!(records.len() as u64, n + rows);
    let csv_rows = &records[n as usize..];
    assert_eq!(
        csv_rows[0],
        serde_json::json!({"id": "0", "city": "Zurich\nnorth 00000000", "pad": pad})
    );
    let last = &csv_rows[rows as usize - 1];
    assert_eq!(last["city"], format!("Zurich\nnorth {:0>8}", rows - 1));
}

/// The answer to a body refused part-way, and what a small request after it is given.
async fn refused_then_next(s: &TestServer, r: &Reply, status: u16) -> Reply {
    assert_eq!(r.status, status, "{}", r.text);
    let next = post_as(s, "application/x-ndjson", &[], &b"{\"id\":-1}\n"[..]).await;
    assert_eq!(next.status, 200, "{}", next.text);
    next
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_line_late_in_a_large_body_lands_nothing_of_it() {
    let s = server().await;
    let (mut body, n) = ndjson(12 * MIB);
    body.extend_from_slice(b"{\"id\": oops}\n");
    let r = post_as(&s, "application/x-ndjson", &[], body).await;
    let next = refused_then_next(&s, &r, 400).await;
    assert!(
        r.text.contains(&format!("line {}", n + 1)),
        "the line is counted from the body's start: {}",
        r.text
    );
    assert_eq!(next.seqs(), Some((1, 1)), "no sequence number was used");
    let landed = s.landed().await;
    assert_eq!(landed.len(), 1, "only the next request's record");

    // A CSV error names its line in the whole body, not in its part.
    let pad = "p".repeat(200);
    let mut csv = b"id,city,pad\n".to_vec();
    for i in 0..60_000u64 {
        csv.extend_from_slice(format!("{i},\"Zurich\n{i:0>10}\",{pad}\n").as_bytes());
    }
    csv.extend_from_slice(b"1,\"unclosed\n");
    let r = post_as(&s, "text/csv", &[], csv).await;
    assert_eq!(r.status, 400, "{}", r.text);
    // Two lines per row: the bad row starts on line 1 + 2 * 60,000 + 1.
    assert!(r.text.contains("line 120002"), "{}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_request_limit_part_way_lands_nothing() {
    let s = TestServer::start_with(|s| {
        s.server.max_request_bytes = 10 * MIB as u64;
        s.spool_max_bytes = 512 * MIB as u64;
    })
    .await;
    let (body, _) = ndjson(12 * MIB);
    let r = post_as(&s, "application/x-ndjson", &[], body).await;
    let next = refused_then_next(&s, &r, 413).await;
    assert!(
        r.text.contains("10485760"),
        "names the request's limit: {}",
        r.text
    );
    assert_eq!(next.seqs(), Some((1, 1)), "{}", next.text);
    assert_eq!(s.landed().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_package_lands_each_flowfile_with_its_attributes() {
    let s = server().await;
    let (big, n) = ndjson(10 * MIB);
    let json = br#"[{"id": 100000000}, {"id": 100000001}]"#;
    let body = package(
        flowfile::Version::V3,
        &[
            (
                &[
                    ("filename", "big.ndjson"),
                    ("mime.type", "application/x-ndjson"),
                ],
                &big,
            ),
            (
                &[("filename", "two.json"), ("mime.type", "application/json")],
                json,
            ),
        ],
    );
    let r = post_as(&s, "application/flowfile-v3", &[], body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.seqs(), Some((1, n + 2)), "{}", r.text);
    let landed = s.landed().await;
    let names: Vec<&str> = landed.iter().map(|l| l.attr("filename").unwrap()).collect();
    assert!(names[..n as usize].iter().all(|f| *f == "big.ndjson"));
    assert_eq!(&names[n as usize..], ["two.json", "two.json"]);
    let mut want: Vec<u64> = (0..n).collect();
    want.extend([100_000_000, 100_000_001]);
    assert_eq!(ids(&crate::support::receiver::records(&landed)), want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_flowfiles_of_a_package_count_against_the_budget_only_until_parsed() {
    // 24 MiB of JSON FlowFiles, 96 KiB each, through an 8 MiB body budget: each is held
    // whole until it ends, then parsed and given back.
    let s = server().await;
    let pad = "j".repeat(96 << 10);
    let docs: Vec<String> = (0..256)
        .map(|i| format!("{{\"id\":{i},\"pad\":\"{pad}\"}}"))
        .collect();
    let attrs: &[(&str, &str)] = &[("mime.type", "application/json")];
    let flowfiles: Vec<_> = docs.iter().map(|d| (attrs, d.as_bytes())).collect();
    let body = package(flowfile::Version::V3, &flowfiles);
    assert!(body.len() > 24 * MIB);
    let r = post_as(&s, "application/flowfile-v3", &[], body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.seqs(), Some((1, 256)), "{}", r.text);
    let landed = crate::support::receiver::records(&s.landed().await);
    assert_eq!(ids(&landed), (0..256).collect::<Vec<_>>());
}
