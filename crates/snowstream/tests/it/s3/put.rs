//! PutObject through the S3 front door with aws-sdk-s3 as the client: formats, gzip,
//! in-memory and streaming bodies (checksum header and aws-chunked trailer paths), ETags,
//! metadata, auth errors, digests, backpressure, and many small objects in few files.

use crate::support::s3::*;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;

/// The bucket names ListBuckets shows `c`.
async fn bucket_names(c: &aws_sdk_s3::Client) -> Vec<String> {
    c.list_buckets()
        .send()
        .await
        .expect("list buckets")
        .buckets()
        .iter()
        .filter_map(|b| b.name().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn csv_json_ndjson_and_gzip_objects_become_records() {
    let t = start(|_| {}).await;
    let c = t.client();
    let csv = b"id,name,address\n1,Ada,\"12 Main St\nLondon\"\n2,Grace,NYC\n".to_vec();
    let out = put(&c, "raw", "in/people.csv", csv.clone())
        .metadata("source", "nifi-test")
        .content_disposition("people-original.csv")
        .send()
        .await
        .expect("csv put");
    assert_eq!(out.e_tag(), Some(format!("\"{}\"", md5_hex(&csv)).as_str()));

    let json = br#"[{"id":3,"name":"Alan"},{"id":4,"name":"Barbara"}]"#.to_vec();
    put(&c, "raw", "in/batch", json)
        .content_type("application/json")
        .send()
        .await
        .expect("json put by content type");
    let nd = b"{\"id\":5}\n{\"id\":6}\n\n{\"id\":7}\n".to_vec();
    put(&c, "raw", "in/more.ndjson.gz", gzip(&nd))
        .send()
        .await
        .expect("gzip ndjson put by extension");
    put(&c, "raw", "orders/o.jsonl", b"{\"order\":1}\n")
        .send()
        .await
        .expect("prefix route to orders");

    let lines = t.landed().await;
    let people = records_of(&lines, "in/people.csv");
    assert_eq!(people.len(), 2);
    assert_eq!(people[0]["address"], "12 Main St\nLondon");
    let first = lines
        .iter()
        .find(|l| l["meta"]["attributes"]["s3.key"] == "in/people.csv")
        .unwrap();
    let attrs = &first["meta"]["attributes"];
    assert_eq!(attrs["source"], "nifi-test");
    assert_eq!(attrs["filename"], "people-original.csv");
    assert_eq!(attrs["s3.bucket"], "raw");
    assert_eq!(first["meta"]["stream"], "customers");
    assert_eq!(records_of(&lines, "in/batch").len(), 2);
    let ids: Vec<_> = records_of(&lines, "in/more.ndjson.gz")
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [5, 6, 7]);
    let order = lines
        .iter()
        .find(|l| l["meta"]["attributes"]["s3.key"] == "orders/o.jsonl")
        .unwrap();
    assert_eq!(order["meta"]["stream"], "orders");
    assert_eq!(lines.len(), 2 + 2 + 3 + 1);
}

#[tokio::test]
async fn streaming_body_uses_trailer_checksum_and_lands() {
    let t = start(|_| {}).await;
    let path = t.dir.path().join("upload.ndjson");
    let body: String = (0..2000).map(|i| format!("{{\"id\":{i}}}\n")).collect();
    std::fs::write(&path, &body).unwrap();
    let out = t
        .client()
        .put_object()
        .bucket("raw")
        .key("stream/upload.ndjson")
        .body(ByteStream::from_path(&path).await.unwrap())
        .send()
        .await
        .expect("streaming put");
    assert_eq!(
        out.e_tag(),
        Some(format!("\"{}\"", md5_hex(body.as_bytes())).as_str())
    );
    let lines = t.landed().await;
    assert_eq!(records_of(&lines, "stream/upload.ndjson").len(), 2000);
}

#[tokio::test]
async fn parse_error_is_400_naming_the_line_and_keeps_nothing() {
    let t = start(|_| {}).await;
    let e = put(
        &t.client(),
        "raw",
        "bad.ndjson",
        b"{\"id\":1}\n{\"id\":2}\n[3]\n",
    )
    .send()
    .await
    .expect_err("bad ndjson is refused");
    assert_eq!(status(&e), Some(400));
    assert_eq!(e.code(), Some("InvalidArgument"));
    assert!(e.message().unwrap().contains("line 3"), "{:?}", e.message());
    assert!(t.landed().await.is_empty());
}

#[tokio::test]
async fn wrong_secret_unknown_key_foreign_and_unknown_bucket() {
    let t = start(|_| {}).await;
    let refused = |c: aws_sdk_s3::Client, bucket: &'static str| async move {
        put(&c, bucket, "x.json", b"{\"id\":1}")
            .send()
            .await
            .expect_err("refused")
    };
    let e = refused(t.client_as(AK, "not-the-secret"), "raw").await;
    assert_eq!(
        (status(&e), e.code()),
        (Some(403), Some("SignatureDoesNotMatch"))
    );
    let e = refused(t.client_as("AKIDUNKNOWN", SK), "raw").await;
    assert_eq!(
        (status(&e), e.code()),
        (Some(403), Some("InvalidAccessKeyId"))
    );
    let e = refused(t.client_as(OTHER_AK, OTHER_SK), "raw").await;
    assert_eq!((status(&e), e.code()), (Some(403), Some("AccessDenied")));
    let e = refused(t.client(), "nosuchbucket").await;
    assert_eq!((status(&e), e.code()), (Some(404), Some("NoSuchBucket")));
    // The orders-only key may write its own bucket.
    put(
        &t.client_as(OTHER_AK, OTHER_SK),
        "orders",
        "ok.json",
        b"{\"id\":9}",
    )
    .send()
    .await
    .expect("own bucket");
    let lines = t.landed().await;
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["record"]["id"], 9);
}

#[tokio::test]
async fn checksum_and_content_md5_mismatches_are_bad_digest() {
    let t = start(|_| {}).await;
    let c = t.client();
    let body = b"{\"id\":1}".to_vec();
    let e = put(&c, "raw", "a.json", body.clone())
        .checksum_crc32("AAAAAA==")
        .send()
        .await
        .expect_err("wrong crc32");
    assert_eq!((status(&e), e.code()), (Some(400), Some("BadDigest")));
    let e = put(&c, "raw", "a.json", body.clone())
        .checksum_sha256("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")
        .send()
        .await
        .expect_err("wrong sha256");
    assert_eq!(e.code(), Some("BadDigest"));
    let e = put(&c, "raw", "a.json", body.clone())
        .content_md5("1B2M2Y8AsgTpgAmY7PhCfg==")
        .send()
        .await
        .expect_err("wrong md5");
    assert_eq!(e.code(), Some("BadDigest"));
    assert!(t.landed().await.is_empty());
    // The same body with a correct Content-MD5 is accepted.
    use base64::Engine;
    let md5 =
        base64::engine::general_purpose::STANDARD.encode(hex::decode(md5_hex(&body)).unwrap());
    put(&c, "raw", "a.json", body)
        .content_md5(md5)
        .send()
        .await
        .expect("right md5");
    assert_eq!(t.landed().await.len(), 1);
}

#[tokio::test]
async fn full_spool_is_503_slow_down_with_retry_after() {
    let t = start(|s| {
        s.spool_max_bytes = 1;
        s.sink_down = true;
    })
    .await;
    let c = t.client();
    let send = || put(&c, "raw", "x.json", b"{\"id\":1}").send();
    send().await.expect("first object fits");
    let e = send().await.expect_err("spool full");
    assert_eq!((status(&e), e.code()), (Some(503), Some("SlowDown")));
    let retry = retry_after(&e);
    assert_eq!(retry.as_deref(), Some("5"));
}

#[tokio::test]
async fn bucket_operations_for_the_cli() {
    let t = start(|_| {}).await;
    let c = t.client();
    c.head_bucket()
        .bucket("raw")
        .send()
        .await
        .expect("head bucket");
    let loc = c
        .get_bucket_location()
        .bucket("raw")
        .send()
        .await
        .expect("location");
    assert!(
        loc.location_constraint()
            .is_none_or(|l| l.as_str().is_empty())
    );
    assert_eq!(bucket_names(&c).await, ["orders", "raw"]);
    assert_eq!(
        bucket_names(&t.client_as(OTHER_AK, OTHER_SK)).await,
        ["orders"]
    );
    let e = c
        .get_object()
        .bucket("raw")
        .key("x.json")
        .send()
        .await
        .expect_err("no reads");
    assert_eq!(e.code(), Some("NoSuchKey"));
    assert!(e.message().unwrap().contains("does not store"));
    let e = c
        .head_object()
        .bucket("raw")
        .key("x.json")
        .send()
        .await
        .expect_err("no reads");
    assert_eq!(status(&e), Some(404));
    let list = c
        .list_objects_v2()
        .bucket("raw")
        .send()
        .await
        .expect("empty list");
    assert_eq!(list.key_count(), Some(0));
    assert!(list.contents().is_empty());
}

#[tokio::test]
async fn ten_thousand_small_objects_land_in_a_handful_of_files() {
    let t = start(|_| {}).await;
    let c = t.client();
    let n = 10_000usize;
    let rows_per_object = 10usize;
    let mut tasks = tokio::task::JoinSet::new();
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for _ in 0..32 {
        let c = c.clone();
        let next = next.clone();
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let mut body = String::from("id,obj,row,pad\n");
                for r in 0..rows_per_object {
                    body.push_str(&format!(
                        "{},{i},{r},{}\n",
                        i * rows_per_object + r,
                        "x".repeat(70)
                    ));
                }
                put(&c, "raw", &format!("small/{i}.csv"), body.into_bytes())
                    .send()
                    .await
                    .expect("small put");
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.expect("put task");
    }
    let lines = t.landed().await;
    assert_eq!(lines.len(), n * rows_per_object);
    let mut ids: Vec<u64> = lines
        .iter()
        .map(|l| l["record"]["id"].as_str().unwrap().parse().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), n * rows_per_object, "every record exactly once");
    let files = t.files().len();
    assert!((1..=5).contains(&files), "{files} files for {n} objects");
}
