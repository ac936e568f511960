//! Multipart uploads cannot fill the disk around the spool: the number of uploads in
//! progress is capped (SlowDown), one upload's parts may not pass its object's limit
//! (EntityTooLarge: Complete could never take them; the request limit for a JSON object,
//! parsed whole, the spool limit for NDJSON or CSV, which stream), and the parts of every
//! upload count with the spool against the spool limit (SlowDown, retryable).

use crate::support::s3::*;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;

async fn create(c: &aws_sdk_s3::Client, key: &str) -> Result<String, String> {
    c.create_multipart_upload()
        .bucket("raw")
        .key(key)
        .send()
        .await
        .map(|o| o.upload_id().expect("upload id").to_owned())
        .map_err(|e| e.code().unwrap_or("?").to_owned())
}

async fn part(
    c: &aws_sdk_s3::Client,
    key: &str,
    id: &str,
    n: i32,
    bytes: usize,
) -> Result<(), (Option<u16>, String)> {
    c.upload_part()
        .bucket("raw")
        .key(key)
        .upload_id(id)
        .part_number(n)
        .body(ByteStream::from(vec![b' '; bytes]))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| (status(&e), e.code().unwrap_or("?").to_owned()))
}

#[tokio::test]
async fn uploads_and_their_parts_are_bounded() {
    let t = start(|s| {
        s.s3.max_open_uploads = 2;
        s.s3.max_parts_bytes = 1500;
        s.server.max_request_bytes = 1000;
    })
    .await;
    let c = t.client();
    let a = create(&c, "in/a.json").await.expect("first upload");
    let b = create(&c, "in/b.ndjson").await.expect("second upload");
    assert_eq!(
        create(&c, "in/c.ndjson").await,
        Err("SlowDown".to_owned()),
        "a third upload in progress is refused"
    );

    part(&c, "in/a.json", &a, 1, 600).await.expect("a part");
    // Replacing a part does not count it twice.
    part(&c, "in/a.json", &a, 1, 600)
        .await
        .expect("the part again");
    assert_eq!(
        part(&c, "in/a.json", &a, 2, 600).await,
        Err((Some(400), "EntityTooLarge".to_owned())),
        "a JSON object's parts would pass the request limit"
    );
    // NDJSON streams through Complete: past the request limit is fine, past what the spool
    // can ever hold is not, and that is known from the part's Content-Length.
    assert_eq!(
        part(&c, "in/b.ndjson", &b, 1, 1600).await,
        Err((Some(400), "EntityTooLarge".to_owned())),
        "an NDJSON part larger than the spool limit can never be taken"
    );
    part(&c, "in/b.ndjson", &b, 1, 600).await.expect("b's part");
    // 1,200 bytes of parts stored; 400 more would pass the 1,500-byte spool limit.
    assert_eq!(
        part(&c, "in/b.ndjson", &b, 2, 400).await,
        Err((Some(503), "SlowDown".to_owned())),
    );

    // Aborting frees both: a new upload and its part are accepted.
    c.abort_multipart_upload()
        .bucket("raw")
        .key("in/a.json")
        .upload_id(&a)
        .send()
        .await
        .expect("abort");
    // b's parts (600 + 500 = 1,100 bytes) pass the 1,000-byte request limit: NDJSON may.
    part(&c, "in/b.ndjson", &b, 2, 500)
        .await
        .expect("an NDJSON upload past the request limit");
    let c2 = create(&c, "in/c.ndjson")
        .await
        .expect("room for a new upload");
    part(&c, "in/c.ndjson", &c2, 1, 300)
        .await
        .expect("room for its part");
}
