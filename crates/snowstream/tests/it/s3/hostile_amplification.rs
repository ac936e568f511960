//! An object that expands once landed (a gzip'd CSV whose 8 KiB header name repeats on each
//! of 200,000 one-character rows: 1.6 GB of records from a few hundred bytes) is refused
//! with EntityTooLarge naming the limit, and nothing of it lands.

use crate::support::s3::*;
use aws_sdk_s3::error::ProvideErrorMetadata;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_that_expands_past_the_request_limit_is_entity_too_large() {
    let t = start(|s| s.server.max_request_bytes = 16 << 20).await;
    let c = t.client();
    let mut csv = "k".repeat(8 << 10).into_bytes();
    csv.extend_from_slice(&b"\nx".repeat(200_000));
    let body = gzip(&csv);
    assert!(body.len() < 2048, "{} bytes", body.len());
    let err = put(&c, "raw", "in/wide.csv.gz", body)
        .send()
        .await
        .expect_err("refused");
    assert_eq!(err.code(), Some("EntityTooLarge"), "{err:?}");
    assert!(
        err.message().unwrap_or("").contains("--max-request-size"),
        "{err:?}"
    );
    put(&c, "raw", "in/ok.csv", b"id\n1\n".to_vec())
        .send()
        .await
        .expect("a normal object");
    let lines = t.landed().await;
    assert_eq!(lines.len(), 1, "only the normal object landed");
}
