//! Gzip objects through the S3 front door share the HTTP door's capped gunzip: a bomb is
//! refused as too large, a corrupt stream as a bad argument, and neither lands anything.

use crate::support::s3::*;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;

#[tokio::test]
async fn gzip_bombs_and_corrupt_gzip_are_refused_and_land_nothing() {
    let limit = 64 << 10;
    let t = start(|s| s.server.max_request_bytes = limit).await;
    let c = t.client();
    let put = |key: &'static str, body: Vec<u8>| {
        c.put_object()
            .bucket("raw")
            .key(key)
            .body(ByteStream::from(body))
            .send()
    };

    let bomb = gzip("{\"id\":1}\n".repeat(200_000).as_bytes());
    assert!((bomb.len() as u64) < limit);
    let e = put("in/bomb.ndjson.gz", bomb)
        .await
        .expect_err("bomb refused");
    // S3 answers EntityTooLarge with a 400.
    assert_eq!((status(&e), e.code()), (Some(400), Some("EntityTooLarge")));
    let message = e.message().unwrap_or_default();
    assert!(
        message.contains(&format!("{limit}-byte limit")),
        "{message:?}"
    );

    let mut corrupt = gzip(b"{\"id\":1}\n{\"id\":2}\n");
    let mid = corrupt.len() / 2;
    corrupt[mid] ^= 0xFF;
    let e = put("in/corrupt.ndjson.gz", corrupt)
        .await
        .expect_err("corrupt gzip refused");
    assert_eq!((status(&e), e.code()), (Some(400), Some("InvalidArgument")));
    let message = e.message().unwrap_or_default();
    assert!(message.contains("not valid gzip"), "{message:?}");

    assert!(t.landed().await.is_empty());
    put("in/good.ndjson.gz", gzip(b"{\"id\":3}\n"))
        .await
        .expect("a good gzip object is accepted");
    assert_eq!(records_of(&t.landed().await, "in/good.ndjson.gz").len(), 1);
}

/// A small gzip object that inflates past what the memory budget lets request bodies hold
/// (issue 23: a 248 KB body of 250 MB raised peak RSS by 176 MiB) is answered `SlowDown`
/// with `Retry-After`, and lands nothing; under a budget it fits, the same object lands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gzip_object_inflates_within_the_memory_budget() {
    let line = "{\"id\":1,\"pad\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}\n";
    let inflated = line.repeat((24 << 20) / line.len());
    let body = gzip(inflated.as_bytes());
    assert!(body.len() < 1 << 20, "{} bytes compressed", body.len());
    let records = inflated.len() / line.len();

    let budget = |bytes| move |s: &mut Setup| s.server.body_budget = server::BodyBudget::new(bytes);
    let t = start(budget(8 << 20)).await;
    let e = put(&t.client(), "raw", "big.ndjson.gz", body.clone())
        .send()
        .await
        .expect_err("inflating past the budget is refused");
    assert_eq!((status(&e), e.code()), (Some(503), Some("SlowDown")));
    assert_eq!(retry_after(&e).as_deref(), Some("1"));
    assert!(t.landed().await.is_empty(), "nothing of it landed");

    let t = start(budget(64 << 20)).await;
    put(&t.client(), "raw", "big.ndjson.gz", body)
        .send()
        .await
        .expect("fits in the budget");
    assert_eq!(t.landed().await.len(), records);
}
