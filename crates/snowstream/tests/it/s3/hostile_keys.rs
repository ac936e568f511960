//! Keys S3 itself refuses get a 400 from the S3 front door, not a 500 from deeper down: a key
//! over 1,024 bytes (`KeyTooLongError`, S3 user guide "Naming Amazon S3 objects") and a key
//! with a line break (which would split its line in the Snowpipe notify queue), for PutObject
//! and CreateMultipartUpload alike. Nothing of them lands.

use crate::support::s3::*;
use aws_sdk_s3::error::ProvideErrorMetadata;

#[tokio::test]
async fn over_long_and_control_character_keys_are_400() {
    let t = start(|_| {}).await;
    let c = t.client();
    let long = format!("in/{}.ndjson", "k".repeat(1100));
    let err = put(&c, "raw", &long, b"{\"id\":1}\n")
        .send()
        .await
        .expect_err("an over-long key is refused");
    assert_eq!(err.code(), Some("KeyTooLongError"), "{err:?}");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(400));

    let err = c
        .create_multipart_upload()
        .bucket("raw")
        .key(&long)
        .send()
        .await
        .expect_err("an over-long key is refused");
    assert_eq!(err.code(), Some("KeyTooLongError"), "{err:?}");

    for key in ["in/a\nb.ndjson", "in/a\rb.ndjson", "in/a\u{0}b.ndjson"] {
        let err = put(&c, "raw", key, b"{\"id\":2}\n")
            .send()
            .await
            .expect_err("a key with a control character is refused");
        assert_eq!(err.code(), Some("InvalidArgument"), "{key:?}: {err:?}");
        assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(400));
    }

    // A key of exactly 1,024 bytes is fine.
    let exact = format!("in/{}.ndjson", "k".repeat(1024 - 10));
    assert_eq!(exact.len(), 1024);
    put(&c, "raw", &exact, b"{\"id\":3}\n")
        .send()
        .await
        .expect("a 1,024-byte key is accepted");
    let lines = t.landed().await;
    assert_eq!(lines.len(), 1, "only the valid object landed");
    assert_eq!(lines[0]["record"]["id"], 3);
}
