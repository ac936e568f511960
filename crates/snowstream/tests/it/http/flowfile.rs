//! FlowFile packages (v3 and v2) over real HTTP, as NiFi's PostHTTP/InvokeHTTP send them:
//! several FlowFiles per request, per-FlowFile `mime.type`, attributes carried into
//! `meta.attributes`, fresh uuids, the `filename` header, chunked bodies, and every fixture
//! produced by NiFi's own packager (valid ones accepted, invalid ones refused with nothing landed).

use std::collections::HashMap;
use std::path::PathBuf;

use crate::support::receiver::{
    JSON, Landed, Reply, TestServer, fixture, gzip, is_uuid_v4, package, post_as, send,
};
use flowfile::Version;
use serde_json::{Value, json};

async fn post_package(s: &TestServer, version: Version, body: Vec<u8>) -> Reply {
    post_as(s, version.mime(), &[], body).await
}

/// The landed lines whose seq falls in the answer's range, for one stream.
fn lines_of<'a>(landed: &'a [Landed], stream: &str, r: &Reply) -> Vec<&'a Landed> {
    let (a, b) = r
        .seqs()
        .unwrap_or_else(|| panic!("no seq range in {:?}", r.text));
    landed
        .iter()
        .filter(|l| l.stream() == stream && (a..=b).contains(&l.seq()))
        .collect()
}

/// Each landed record with its `filename` attribute, in landing order.
fn with_filenames(landed: &[Landed]) -> Vec<(Value, &str)> {
    landed
        .iter()
        .map(|l| (l.record.clone(), l.attr("filename").unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v3_package_of_several_flowfiles_keeps_each_flowfiles_format_and_attributes() {
    let s = TestServer::start_default().await;
    let sent_uuid = "6f1c2a8e-1b7d-4a57-9d7e-2f0d9b1c3e44";
    let csv = b"id,address\n5,\"1 Main St\nSpringfield\"\n6,x\n";
    let body = package(
        Version::V3,
        &[
            (
                &[
                    ("filename", "a.json"),
                    ("uuid", sent_uuid),
                    ("mime.type", "application/json"),
                    ("kafka.topic", "customers"),
                ],
                br#"[{"id":1},{"id":2}]"#,
            ),
            (
                &[
                    ("filename", "b.ndjson"),
                    ("mime.type", "application/x-ndjson"),
                ],
                b"{\"id\":3}\n\n{\"id\":4}\n",
            ),
            (&[("filename", "c.csv"), ("mime.type", "text/csv")], csv),
            // No mime.type: the stream's default format (JSON).
            (&[("filename", "d")], b"{\"id\":7} {\"id\":8}"),
            // No records at all: nothing lands for it, and it is no error.
            (&[("filename", "empty")], b""),
        ],
    );
    let r = post_package(&s, Version::V3, body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.text, "accepted 8 records into customers (seq 1..=8)\n");

    let landed = s.landed().await;
    let got = with_filenames(&landed);
    assert_eq!(
        got,
        vec![
            (json!({"id":1}), "a.json"),
            (json!({"id":2}), "a.json"),
            (json!({"id":3}), "b.ndjson"),
            (json!({"id":4}), "b.ndjson"),
            (
                json!({"id":"5","address":"1 Main St\nSpringfield"}),
                "c.csv"
            ),
            (json!({"id":"6","address":"x"}), "c.csv"),
            (json!({"id":7}), "d"),
            (json!({"id":8}), "d"),
        ]
    );
    let a = &landed[0];
    assert_eq!(a.attr("kafka.topic"), Some("customers"));
    assert_eq!(a.attr("mime.type"), Some("application/json"));
    // The sender's uuid is kept as source.uuid; the FlowFile gets a fresh one, as NiFi does.
    assert_eq!(a.attr("source.uuid"), Some(sent_uuid));
    let uuid = a.attr("uuid").unwrap();
    assert!(is_uuid_v4(uuid) && uuid != sent_uuid, "{uuid}");
    assert_eq!(landed[1].attr("uuid"), Some(uuid), "one FlowFile, one uuid");
    let uuids: std::collections::HashSet<_> = [0, 2, 4, 6]
        .iter()
        .map(|&i| landed[i].attr("uuid").unwrap())
        .collect();
    assert_eq!(uuids.len(), 4, "each FlowFile has its own uuid");
    assert!(uuids.iter().all(|u| is_uuid_v4(u)));
    assert_eq!(
        landed[2].attr("source.uuid"),
        None,
        "no uuid sent, none kept"
    );
    assert_eq!(
        landed[2].attr("kafka.topic"),
        None,
        "attributes stay per FlowFile"
    );
    for l in &landed {
        assert_eq!(l.attr("restlistener.remote.source.host"), Some("127.0.0.1"));
        assert_eq!(l.attr("restlistener.request.uri"), Some("/contentListener"));
        assert_eq!(
            l.attr("path"),
            None,
            "packaged FlowFiles get no path from the receiver"
        );
        assert_eq!(l.meta["received_at"], landed[0].meta["received_at"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_package_and_filename_header_override() {
    let s = TestServer::start_default().await;
    let body = package(
        Version::V2,
        &[
            (
                &[("filename", "one.json"), ("uuid", "u-1"), ("team", "blue")],
                b"{\"id\":1}",
            ),
            (
                &[("filename", "two.csv"), ("mime.type", "text/csv")],
                b"id\n2\n3\n",
            ),
        ],
    );
    let r = post_package(&s, Version::V2, body.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.seqs(), Some((1, 3)));
    // A `filename` inside the package wins over the `filename` request header (issue 11,
    // item 4: the sender's attribute is never lost; ListenHTTPServlet would let the header win).
    let r = post_as(
        &s,
        Version::V2.mime(),
        &[("filename", "batch-0007.json")],
        body,
    )
    .await;
    assert_eq!(r.seqs(), Some((4, 6)), "{}", r.text);
    // And a raw body's generated filename.
    let r = post_as(&s, JSON, &[("filename", "raw.json")], "{\"id\":9}").await;
    assert_eq!(r.seqs(), Some((7, 7)), "{}", r.text);

    let landed = s.landed().await;
    let got = with_filenames(&landed);
    assert_eq!(
        got,
        vec![
            (json!({"id":1}), "one.json"),
            (json!({"id":"2"}), "two.csv"),
            (json!({"id":"3"}), "two.csv"),
            (json!({"id":1}), "one.json"),
            (json!({"id":"2"}), "two.csv"),
            (json!({"id":"3"}), "two.csv"),
            (json!({"id":9}), "raw.json"),
        ]
    );
    assert_eq!(landed[0].attr("team"), Some("blue"));
    assert_eq!(landed[0].attr("source.uuid"), Some("u-1"));
    assert!(is_uuid_v4(landed[0].attr("uuid").unwrap()));
    assert_ne!(
        landed[0].attr("uuid"),
        landed[3].attr("uuid"),
        "a resent FlowFile gets a new uuid"
    );
}

/// What NiFi's packager fixtures hold that this receiver can turn into records, and the
/// records it must land for each (in order).
fn record_fixtures() -> HashMap<&'static str, Vec<Value>> {
    let customer = json!({"Id":"0","name":"Jane Doe","phone_number":"555-0100",
        "email":"jane@example.com","address":"1 Main St\nSpringfield, IL 62701",
        "country":"Chile","job":"Engineer"});
    HashMap::from([
        ("single_csv.v3.bin", vec![customer]),
        (
            "three_json.v3.bin",
            vec![
                json!({"Id":1,"name":"A"}),
                json!({"Id":2,"name":"B"}),
                json!({"Id":3,"name":"C"}),
                json!({"Id":4}),
                json!({"Id":5}),
            ],
        ),
        ("empty_content.v3.bin", vec![]),
        ("unicode.v3.bin", vec![json!({"name":"Zoë 🚀"})]),
        ("single_csv.v2.bin", vec![json!({"Id":"1","name":"Ann"})]),
        ("two_json.v2.bin", vec![json!({"Id":1}), json!({"Id":2})]),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_valid_nifi_fixture_is_unpacked() {
    let manifest: Vec<Value> =
        serde_json::from_slice(&fixture("manifest.json")).expect("manifest.json");
    assert!(manifest.len() >= 10, "fixtures present");
    let expected = record_fixtures();
    let s = TestServer::start_default().await;
    let mut answers = Vec::new();
    for entry in &manifest {
        let file = entry["file"].as_str().unwrap();
        let version = match entry["format"].as_str().unwrap() {
            "v3" => Version::V3,
            "v2" => Version::V2,
            other => panic!("{file}: unknown format {other}"),
        };
        let r = post_package(&s, version, fixture(file)).await;
        // Every valid package decodes; content that holds no records (binary, plain text) is a
        // content error naming the FlowFile, never a package error.
        assert!(
            !r.text.contains("invalid FlowFile package"),
            "{file}: {}",
            r.text
        );
        match expected.get(file) {
            Some(_) => assert_eq!(r.status, 200, "{file}: {}", r.text),
            None => {
                assert_eq!(r.status, 400, "{file}: {}", r.text);
                assert!(
                    r.text.starts_with("FlowFile 1 ") && r.text.contains("is not valid json"),
                    "{file}: {}",
                    r.text
                );
            }
        }
        answers.push((entry, r));
    }
    let landed = s.landed().await;
    let mut total = 0;
    for (entry, r) in &answers {
        let file = entry["file"].as_str().unwrap();
        let Some(want) = expected.get(file) else {
            continue;
        };
        if want.is_empty() {
            assert_eq!(r.text, "accepted 0 records into customers\n", "{file}");
            continue;
        }
        let lines = lines_of(&landed, "customers", r);
        let got: Vec<Value> = lines.iter().map(|l| l.record.clone()).collect();
        assert_eq!(&got, want, "{file}");
        total += got.len();
        // Each record carries its FlowFile's attributes from the package (uuid kept as
        // source.uuid). Match records to FlowFiles by filename.
        for ff in entry["flowfiles"].as_array().unwrap() {
            let attrs: Vec<(&str, &str)> = ff["attributes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|kv| (kv[0].as_str().unwrap(), kv[1].as_str().unwrap()))
                .collect();
            let filename = attrs.iter().find(|(k, _)| *k == "filename").unwrap().1;
            let mine: Vec<_> = lines
                .iter()
                .filter(|l| l.attr("filename") == Some(filename))
                .collect();
            assert!(!mine.is_empty(), "{file}: records of {filename}");
            for l in mine {
                for (k, v) in &attrs {
                    let key = if *k == "uuid" { "source.uuid" } else { k };
                    assert_eq!(l.attr(key), Some(*v), "{file} {filename}: attribute {k}");
                }
            }
        }
    }
    assert_eq!(landed.len(), total, "nothing else landed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_invalid_fixture_is_refused_and_lands_nothing() {
    let invalid: Vec<Value> =
        serde_json::from_slice(&fixture("invalid.json")).expect("invalid.json");
    assert!(!invalid.is_empty());
    let s = TestServer::start_default().await;
    for entry in &invalid {
        let file = entry["file"].as_str().unwrap();
        let version = match entry["format"].as_str().unwrap() {
            "v3" => Version::V3,
            _ => Version::V2,
        };
        let r = post_package(&s, version, fixture(file)).await;
        assert_eq!(r.status, 400, "{file} ({}): {}", entry["why"], r.text);
        assert!(
            r.text.starts_with("invalid FlowFile package: ") && r.text.len() > 30,
            "{file}: reason {:?}",
            r.text
        );
        // Also when gzipped the way PostHTTP does it.
        let r = post_as(
            &s,
            version.mime(),
            &[("flowfile-gzipped", "true")],
            gzip(&fixture(file)),
        )
        .await;
        assert_eq!(r.status, 400, "{file} gzipped: {}", r.text);
    }
    // A v3 stream labelled v2 is not a valid v2 stream either.
    let r = post_package(&s, Version::V2, fixture("three_json.v3.bin")).await;
    assert_eq!(r.status, 400, "{}", r.text);
    // A valid package whose second FlowFile holds a bad record: all of it is refused.
    let body = package(
        Version::V3,
        &[
            (&[("filename", "ok.json")], b"{\"id\":1}"),
            (
                &[
                    ("filename", "bad.ndjson"),
                    ("mime.type", "application/x-ndjson"),
                ],
                b"{\"id\":2}\n{\"id\":3\n",
            ),
        ],
    );
    let r = post_package(&s, Version::V3, body).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(
        r.text
            .starts_with("FlowFile 2 \"bad.ndjson\" is not valid ndjson")
            && r.text.contains("line 2"),
        "{:?}",
        r.text
    );

    assert!(
        s.landed().await.is_empty(),
        "nothing of any refused request landed"
    );
    let r = post_package(&s, Version::V3, fixture("three_json.v3.bin")).await;
    assert_eq!(r.text, "accepted 5 records into customers (seq 1..=5)\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packages_arrive_in_tiny_chunks_and_gzipped() {
    // The decoder sees the body incrementally: split it at every few bytes, including inside
    // magic, lengths, attributes and content, and gzip it too.
    let s = TestServer::start_default().await;
    let long_value = "v".repeat(70_000); // a length above 65535 uses the escaped form
    let content: Vec<u8> = (0..200)
        .map(|i| format!("{{\"id\":{i},\"pad\":\"{}\"}}\n", "p".repeat(i % 17)))
        .collect::<String>()
        .into_bytes();
    let body = package(
        Version::V3,
        &[
            (
                &[
                    ("filename", "big.ndjson"),
                    ("mime.type", "application/x-ndjson"),
                    ("long", long_value.as_str()),
                ],
                &content,
            ),
            (&[("filename", "tail.json")], b"{\"id\":200}"),
        ],
    );
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        body.chunks(997).map(|c| Ok(c.to_vec())).collect();
    let r = post_as(
        &s,
        Version::V3.mime(),
        &[],
        reqwest::Body::wrap_stream(futures::stream::iter(chunks)),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.seqs(), Some((1, 201)));

    let zipped = gzip(&body);
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        zipped.chunks(7).map(|c| Ok(c.to_vec())).collect();
    let r = send(
        s.post("/contentListener/orders")
            .header("content-type", "application/flowfile-v3")
            .header("content-encoding", "gzip")
            .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks))),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.seqs(), Some((1, 201)));

    let landed = s.landed().await;
    assert_eq!(landed.len(), 402);
    for stream in ["customers", "orders"] {
        let ids: Vec<u64> = landed
            .iter()
            .filter(|l| l.stream() == stream)
            .map(|l| l.record["id"].as_u64().unwrap())
            .collect();
        assert_eq!(ids, (0..=200).collect::<Vec<_>>(), "{stream}");
    }
    let first = landed.iter().find(|l| l.stream() == "orders").unwrap();
    assert_eq!(first.attr("long"), Some(long_value.as_str()));
    assert_eq!(first.record, json!({"id":0,"pad":""}));
}

/// A NiFi FlowFile v2 package whose FlowFile carries two attribute values of about 64 KiB
/// each: NiFi's FlowFilePackagerV2 writes every string with a 4-byte length (writeString),
/// so nothing bounds a value but the sender's memory, and two such values (131,189 bytes with
/// their keys) were refused by the former 128 KiB default. Taken by default now, each value
/// landed whole on the record's line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flowfile_with_two_64_kib_attribute_values_is_taken_by_default() {
    let s = TestServer::start_default().await;
    let a = "a".repeat(65_600);
    let b = "b".repeat(65_560);
    let attrs: &[(&str, &str)] = &[
        ("filename", "wide.json"),
        ("payload.copy", &a),
        ("error.trace", &b),
    ];
    let body = package(Version::V2, &[(attrs, b"{\"id\":1}")]);
    let r = post_package(&s, Version::V2, body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let landed = s.landed().await;
    assert_eq!(landed.len(), 1);
    assert_eq!(landed[0].attr("payload.copy"), Some(a.as_str()));
    assert_eq!(landed[0].attr("error.trace"), Some(b.as_str()));
}

/// A FlowFile whose two attribute values pass 64 KiB each (NiFi's long length form, 131 KiB of
/// attributes), as NiFi's own FlowFilePackagerV2/V3 write it (crates/flowfile/tests/fixtures,
/// made by scripts/make-flowfile-fixtures.sh): NiFi takes it, so the default settings do too,
/// and the record lands with both attributes whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nifi_package_with_two_64k_attributes_is_taken_by_default() {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../flowfile/tests/fixtures"
    ));
    let s = TestServer::start_default().await;
    for (file, version) in [
        ("two_64k_attributes.v2.bin", Version::V2),
        ("two_64k_attributes.v3.bin", Version::V3),
    ] {
        let body = std::fs::read(dir.join(file)).unwrap();
        let r = post_package(&s, version, body).await;
        assert_eq!(r.status, 200, "{file}: {}", r.text);
        let landed = s.landed().await;
        let lines = lines_of(&landed, "customers", &r);
        assert_eq!(lines.len(), 1, "{file}");
        assert_eq!(lines[0].record, json!({"id": 1, "name": "wide"}));
        assert_eq!(lines[0].attr("schema.text").map(str::len), Some(65_600));
        assert_eq!(lines[0].attr("lineage.trace").map(str::len), Some(65_560));
    }
}
