//! Multipart uploads through the S3 front door with aws-sdk-s3: parts spooled on disk,
//! S3's ETags, ListParts/ListMultipartUploads, abort, expiry, and a restart between parts.

use std::time::Duration;

use crate::support::s3::*;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::CompletedPart;

async fn create(c: &aws_sdk_s3::Client, key: &str) -> String {
    send_create(
        c.create_multipart_upload()
            .bucket("raw")
            .key(key)
            .metadata("flow", "mp-test"),
    )
    .await
}

async fn part(c: &aws_sdk_s3::Client, key: &str, id: &str, n: i32, body: &[u8]) -> CompletedPart {
    let part = upload_part(c, "raw", key, id, n, body).await;
    assert_eq!(
        part.e_tag(),
        Some(format!("\"{}\"", md5_hex(body)).as_str())
    );
    part
}

async fn complete(
    c: &aws_sdk_s3::Client,
    key: &str,
    id: &str,
    parts: Vec<CompletedPart>,
) -> Result<String, String> {
    complete_upload(c, "raw", key, id, parts)
        .send()
        .await
        .map(|o| o.e_tag().unwrap_or_default().to_owned())
        .map_err(|e| e.code().unwrap_or("?").to_owned())
}

/// A CSV object cut into `n` parts at byte offsets that split rows (and the header).
fn csv_parts(rows: usize, n: usize) -> (Vec<Vec<u8>>, usize) {
    let mut body = String::from("id,name\n");
    for i in 0..rows {
        body.push_str(&format!("{i},name-{i}\n"));
    }
    let b = body.into_bytes();
    let step = b.len() / n + 1;
    (b.chunks(step).map(<[u8]>::to_vec).collect(), rows)
}

async fn uploads(c: &aws_sdk_s3::Client) -> Vec<String> {
    c.list_multipart_uploads()
        .bucket("raw")
        .send()
        .await
        .expect("list uploads")
        .uploads()
        .iter()
        .filter_map(|u| u.upload_id().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn three_part_upload_lands_every_record_once_with_s3_etag() {
    let t = start(|_| {}).await;
    let c = t.client();
    let key = "mp/people.csv";
    let id = create(&c, key).await;
    let (bodies, rows) = csv_parts(3000, 3);
    assert_eq!(bodies.len(), 3);
    let mut parts = Vec::new();
    // Upload out of order; part 2 twice (the second replaces the first).
    parts.push(part(&c, key, &id, 2, b"garbage,that,is,replaced\n").await);
    for n in [3, 1, 2] {
        part(&c, key, &id, n, &bodies[n as usize - 1]).await;
    }
    let listed = c
        .list_parts()
        .bucket("raw")
        .key(key)
        .upload_id(&id)
        .send()
        .await
        .expect("list parts");
    let numbers: Vec<_> = listed
        .parts()
        .iter()
        .filter_map(|p| p.part_number())
        .collect();
    assert_eq!(numbers, [1, 2, 3]);
    assert_eq!(
        listed.parts()[1].size(),
        Some(bodies[1].len() as i64),
        "part 2 was replaced"
    );
    parts.clear();
    for (i, b) in bodies.iter().enumerate() {
        parts.push(
            CompletedPart::builder()
                .part_number(i as i32 + 1)
                .e_tag(format!("\"{}\"", md5_hex(b)))
                .build(),
        );
    }
    let parts_again = parts.clone();
    let etag = complete(&c, key, &id, parts).await.expect("complete");
    let mut md5s = Vec::new();
    for b in &bodies {
        md5s.extend(hex::decode(md5_hex(b)).unwrap());
    }
    assert_eq!(etag, format!("\"{}-3\"", md5_hex(&md5s)));
    // A retried Complete (its first answer lost) gets the same answer and appends nothing.
    let again = complete(&c, key, &id, parts_again)
        .await
        .expect("retried complete");
    assert_eq!(again, etag);
    assert!(uploads(&c).await.is_empty());
    let lines = t.landed().await;
    let recs = records_of(&lines, key);
    assert_eq!(recs.len(), rows);
    for (i, r) in recs.iter().enumerate() {
        assert_eq!(r["id"], i.to_string());
    }
    let attrs = &lines[0]["meta"]["attributes"];
    assert_eq!(attrs["flow"], "mp-test");
    assert_eq!(attrs["s3.etag"], etag.trim_matches('"'));
    // Nothing of the upload is left on disk but its completion marker.
    let left: Vec<_> = std::fs::read_dir(&t.config.uploads_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["done"]);
}

#[tokio::test]
async fn upload_survives_a_restart_between_parts() {
    let t = start(|_| {}).await;
    let key = "mp/restart.ndjson";
    let body: String = (0..500).map(|i| format!("{{\"id\":{i}}}\n")).collect();
    let (a, b) = body.as_bytes().split_at(body.len() / 2);
    let c = t.client();
    let id = create(&c, key).await;
    let p1 = part(&c, key, &id, 1, a).await;
    // An object acknowledged before the restart lands once, from the spool.
    put(&c, "raw", "pre.json", b"{\"id\":\"pre\"}")
        .send()
        .await
        .expect("put before restart");
    let t = t.restart().await;
    let c = t.client();
    assert_eq!(
        uploads(&c).await,
        std::slice::from_ref(&id),
        "the upload is still listed"
    );
    let p2 = part(&c, key, &id, 2, b).await;
    complete(&c, key, &id, vec![p1, p2])
        .await
        .expect("complete");
    let lines = t.landed().await;
    assert_eq!(records_of(&lines, key).len(), 500);
    assert_eq!(records_of(&lines, "pre.json").len(), 1);
    assert_eq!(lines.len(), 501);
}

#[tokio::test]
async fn abort_and_bad_completions_keep_nothing() {
    let t = start(|_| {}).await;
    let c = t.client();
    let key = "mp/a.json";
    let id = create(&c, key).await;
    let p1 = part(&c, key, &id, 1, b"{\"id\":1}").await;
    let wrong = CompletedPart::builder()
        .part_number(1)
        .e_tag("\"00000000000000000000000000000000\"")
        .build();
    assert_eq!(
        complete(&c, key, &id, vec![wrong]).await.unwrap_err(),
        "InvalidPart"
    );
    let missing = CompletedPart::builder()
        .part_number(2)
        .e_tag("\"x\"")
        .build();
    assert_eq!(
        complete(&c, key, &id, vec![p1.clone(), missing])
            .await
            .unwrap_err(),
        "InvalidPart"
    );
    assert_eq!(
        uploads(&c).await,
        std::slice::from_ref(&id),
        "still there after a bad complete"
    );
    c.abort_multipart_upload()
        .bucket("raw")
        .key(key)
        .upload_id(&id)
        .send()
        .await
        .expect("abort");
    assert!(uploads(&c).await.is_empty());
    assert_eq!(
        complete(&c, key, &id, vec![p1]).await.unwrap_err(),
        "NoSuchUpload"
    );
    // A parse error at completion keeps nothing either, and answers 400.
    let id = create(&c, "mp/bad.ndjson").await;
    let p = part(&c, "mp/bad.ndjson", &id, 1, b"{\"id\":1}\nnot json\n").await;
    assert_eq!(
        complete(&c, "mp/bad.ndjson", &id, vec![p])
            .await
            .unwrap_err(),
        "InvalidArgument"
    );
    assert!(t.landed().await.is_empty());
}

#[tokio::test]
async fn incomplete_uploads_expire() {
    let t = start(|s| s.s3.upload_max_age = Duration::from_secs(2)).await;
    let c = t.client();
    let id = create(&c, "mp/old.csv").await;
    part(&c, "mp/old.csv", &id, 1, b"id\n1\n").await;
    let mut gone = false;
    for _ in 0..200 {
        if uploads(&c).await.is_empty() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "upload expired within 20 s");
    let e = c
        .list_parts()
        .bucket("raw")
        .key("mp/old.csv")
        .upload_id(&id)
        .send()
        .await
        .expect_err("expired");
    assert_eq!(e.code(), Some("NoSuchUpload"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_completes_of_one_upload_append_once() {
    let t = start(|_| {}).await;
    let c = t.client();
    let key = "mp/race.ndjson";
    let id = create(&c, key).await;
    let body: String = (0..2000).map(|i| format!("{{\"id\":{i}}}\n")).collect();
    let (a, b) = body.as_bytes().split_at(body.len() / 2);
    let parts = vec![
        part(&c, key, &id, 1, a).await,
        part(&c, key, &id, 2, b).await,
    ];
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let (c, id, parts) = (c.clone(), id.clone(), parts.clone());
        tasks.spawn(async move { complete(&c, key, &id, parts).await });
    }
    let mut etags = Vec::new();
    while let Some(r) = tasks.join_next().await {
        etags.push(r.unwrap().expect("every complete succeeds"));
    }
    etags.dedup();
    assert_eq!(etags.len(), 1, "one ETag for every answer");
    let lines = t.landed().await;
    assert_eq!(records_of(&lines, key).len(), 2000);
    assert_eq!(lines.len(), 2000);
}
