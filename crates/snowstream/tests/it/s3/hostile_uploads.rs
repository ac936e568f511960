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
    // Two access keys: each may hold 1,500 bytes of parts in progress.
    let t = start(|s| {
        s.s3.max_open_uploads = 2;
        s.s3.max_parts_bytes = 3000;
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
    // can ever hold for the key is not, and that is known from the part's Content-Length.
    assert_eq!(
        part(&c, "in/b.ndjson", &b, 1, 1600).await,
        Err((Some(400), "EntityTooLarge".to_owned())),
        "an NDJSON part larger than the key's share can never be taken"
    );
    part(&c, "in/b.ndjson", &b, 1, 600).await.expect("b's part");
    // 1,200 bytes of the key's parts stored; 400 more would pass its 1,500-byte share.
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

/// An upload abandoned with its key's whole share (a client that crashed mid-upload) holds
/// that key back, never another key, and only until it expires.
#[tokio::test]
async fn an_abandoned_upload_starves_no_other_client_and_expires() {
    let t = start(|s| {
        s.s3.max_parts_bytes = 2000;
        s.s3.upload_max_age = std::time::Duration::from_secs(3);
    })
    .await;
    let (c, other) = (t.client(), t.client_as(OTHER_AK, OTHER_SK));
    let abandoned = create(&c, "in/abandoned.ndjson").await.expect("upload");
    part(&c, "in/abandoned.ndjson", &abandoned, 1, 1000)
        .await
        .expect("the whole share of the key");
    // Another client's key has its own share.
    let id = other
        .create_multipart_upload()
        .bucket("orders")
        .key("o.ndjson")
        .send()
        .await
        .expect("other key's upload")
        .upload_id()
        .expect("id")
        .to_owned();
    let mut o = other
        .upload_part()
        .bucket("orders")
        .key("o.ndjson")
        .upload_id(&id);
    o = o.part_number(1).body(ByteStream::from(vec![b' '; 900]));
    o.send().await.expect("another key is not starved");
    // The abandoning key waits for its own upload to expire, then has its share back (each
    // try a new upload: the expiry takes every upload as old as the abandoned one).
    let mut tries = 0;
    let started = std::time::Instant::now();
    loop {
        tries += 1;
        let next = create(&c, "in/next.ndjson").await.expect("upload");
        match part(&c, "in/next.ndjson", &next, 1, 500).await {
            Ok(()) => break,
            Err(e) if started.elapsed() < std::time::Duration::from_secs(30) => {
                assert_eq!(e, (Some(503), "SlowDown".to_owned()), "try {tries}");
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            Err(e) => panic!("the abandoned upload never expired: {e:?}"),
        }
    }
    assert!(
        tries > 1,
        "the key's share was held by its abandoned upload at first"
    );
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));
}
