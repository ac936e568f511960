//! Objects of any size up to what the spool can hold (issue 23): an NDJSON or CSV object far
//! over `--max-request-size` streams through CompleteMultipartUpload chunk by chunk and lands
//! every record once, gzip'd or not; an object that can never fit the spool is refused at the
//! first UploadPart that shows it, before that part is stored, not after its last part.

use crate::support::s3::*;
use aws_sdk_s3::error::ProvideErrorMetadata;

/// The request limit in these tests: every object is many times over it.
const REQUEST_LIMIT: u64 = 64 << 10;

fn ndjson(rows: usize) -> Vec<u8> {
    (0..rows)
        .map(|i| {
            format!(
                "{{\"id\":{i},\"name\":\"customer {i}\",\"pad\":\"{}\"}}\n",
                "p".repeat(i % 50)
            )
        })
        .collect::<String>()
        .into_bytes()
}

async fn upload(t: &S3Test, key: &str, body: &[u8], part_bytes: usize) -> Result<(), String> {
    let c = t.client();
    let id = create_upload(&c, "raw", key).await;
    let parts = upload_parts(
        &c,
        "raw",
        key,
        &id,
        body.chunks(part_bytes).map(<[u8]>::to_vec),
    )
    .await;
    complete_upload(&c, "raw", key, &id, parts)
        .send()
        .await
        .map(drop)
        .map_err(|e| format!("{}: {}", e.code().unwrap_or("?"), e.message().unwrap_or("")))
}

fn ids(lines: &[serde_json::Value]) -> Vec<u64> {
    let mut ids: Vec<u64> = lines
        .iter()
        .map(|l| l["record"]["id"].as_u64().expect("an id"))
        .collect();
    ids.sort_unstable();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ndjson_object_far_over_the_request_limit_lands_every_record_once() {
    let t = start(|s| {
        s.server.max_request_bytes = REQUEST_LIMIT;
        // Chunks small enough that each, with its attributes on every line, fits the limit.
        s.s3.complete_chunk_bytes = 4 << 10;
    })
    .await;
    let rows = 40_000;
    let body = ndjson(rows);
    assert!(
        body.len() as u64 > 30 * REQUEST_LIMIT,
        "{} bytes",
        body.len()
    );
    upload(&t, "big/customers.ndjson", &body, 600 << 10)
        .await
        .expect("completed");
    // The same object gzip'd: inflated as it streams, within the spool limit, not the request's.
    let zipped = gzip(&ndjson(rows));
    upload(&t, "big/again.ndjson.gz", &zipped, 256 << 10)
        .await
        .expect("completed gzip'd");
    let lines = t.landed().await;
    let (plain, gz): (Vec<_>, Vec<_>) = lines
        .into_iter()
        .partition(|l| l["meta"]["attributes"]["s3.key"] == "big/customers.ndjson");
    let every: Vec<u64> = (0..rows as u64).collect();
    assert_eq!(ids(&plain), every, "each record of the plain object once");
    assert_eq!(ids(&gz), every, "each record of the gzip'd object once");
}

#[tokio::test]
async fn an_object_that_can_never_fit_the_spool_is_refused_before_its_part_is_stored() {
    let t = start(|s| {
        s.server.max_request_bytes = REQUEST_LIMIT;
        // Two access keys: each may hold 1 MiB of parts in progress.
        s.s3.max_parts_bytes = 2 << 20;
    })
    .await;
    let c = t.client();
    let key = "big/too-big.ndjson";
    let id = create_upload(&c, "raw", key).await;
    let err = c
        .upload_part()
        .bucket("raw")
        .key(key)
        .upload_id(&id)
        .part_number(1)
        .body(aws_sdk_s3::primitives::ByteStream::from(ndjson(30_000)))
        .send()
        .await
        .expect_err("refused");
    assert_eq!(
        (status(&err), err.code()),
        (Some(400), Some("EntityTooLarge"))
    );
    assert!(
        err.message().unwrap_or("").contains("--spool-max-bytes"),
        "{err:?}"
    );
    let stored = c
        .list_parts()
        .bucket("raw")
        .key(key)
        .upload_id(&id)
        .send()
        .await
        .expect("list parts");
    assert!(stored.parts().is_empty(), "{stored:?}");
    // Parts that fit are taken, until the object shows it cannot.
    let part = upload_part(&c, "raw", key, &id, 1, ndjson(8_000)).await;
    assert!(part.e_tag().is_some());
    let over = c
        .upload_part()
        .bucket("raw")
        .key(key)
        .upload_id(&id)
        .part_number(2)
        .body(aws_sdk_s3::primitives::ByteStream::from(ndjson(8_000)))
        .send()
        .await
        .expect_err("the object would pass the spool limit");
    assert_eq!(over.code(), Some("EntityTooLarge"), "{over:?}");
}
