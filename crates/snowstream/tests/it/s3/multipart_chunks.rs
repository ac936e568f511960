//! CompleteMultipartUpload parses an object chunk by chunk from its parts' files (issues 12
//! and 14): records that straddle parts and chunks land once and in order, a CSV header
//! read once serves every chunk, a gzip'd object inflates as it streams, and a bad record in
//! a late chunk still keeps nothing of the object. Chunks are made small (4 KiB) so a small
//! object spans many of them.

use crate::support::s3::*;
use aws_sdk_s3::error::ProvideErrorMetadata;

const CHUNK: usize = 4096;

async fn start_small_chunks() -> S3Test {
    start(|s| s.s3.complete_chunk_bytes = CHUNK).await
}

/// Uploads `body` cut into parts at `cuts` (byte offsets) and completes it: the answer.
async fn upload_cut(
    c: &aws_sdk_s3::Client,
    key: &str,
    body: &[u8],
    cuts: &[usize],
) -> Result<String, (String, String)> {
    let id = create_upload(c, "raw", key).await;
    let mut bounds = vec![0];
    bounds.extend_from_slice(cuts);
    bounds.push(body.len());
    let mut parts = Vec::new();
    for (i, w) in bounds.windows(2).enumerate() {
        let part = upload_part(c, "raw", key, &id, i as i32 + 1, &body[w[0]..w[1]]).await;
        assert_eq!(
            part.e_tag(),
            Some(format!("\"{}\"", md5_hex(&body[w[0]..w[1]])).as_str())
        );
        parts.push(part);
    }
    complete_upload(c, "raw", key, &id, parts)
        .send()
        .await
        .map(|o| o.e_tag().unwrap_or_default().to_owned())
        .map_err(|e| {
            (
                e.code().unwrap_or("?").to_owned(),
                e.message().unwrap_or("").to_owned(),
            )
        })
}

/// NDJSON records of uneven sizes (some longer than a chunk), cut into parts mid-record:
/// every record lands once, in order, each with the object's attributes.
#[tokio::test]
async fn ndjson_records_straddling_parts_and_chunks_land_once_in_order() {
    let t = start_small_chunks().await;
    let c = t.client();
    let key = "mp/uneven.ndjson";
    let rows = 2000;
    let body: String = (0..rows)
        .map(|i| {
            let pad = "x".repeat(if i % 97 == 0 { 5000 } else { i % 41 });
            format!("{{\"id\":{i},\"pad\":\"{pad}\"}}\n")
        })
        .collect();
    let b = body.as_bytes();
    // Cuts inside records, including inside the long ones.
    let cuts = [1, b.len() / 5 + 3, b.len() / 2 + 7, b.len() - 2];
    let etag = upload_cut(&c, key, b, &cuts).await.expect("complete");
    assert!(etag.ends_with("-5\""), "{etag}");
    let lines = t.landed().await;
    let recs = records_of(&lines, key);
    let ids: Vec<i64> = recs.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, (0..rows as i64).collect::<Vec<_>>(), "once, in order");
    assert_eq!(recs[97]["pad"].as_str().unwrap().len(), 5000);
    // The object's attributes, uuid included, are the same on every chunk's lines.
    let uuids: std::collections::HashSet<_> = lines
        .iter()
        .map(|l| l["meta"]["attributes"]["uuid"].clone())
        .collect();
    assert_eq!(uuids.len(), 1, "one uuid for the object");
    assert!(
        lines
            .iter()
            .all(|l| l["meta"]["attributes"]["s3.etag"] == etag.trim_matches('"'))
    );
}

fn csv_body(rows: usize) -> String {
    let mut body = String::from("id,\"note, with comma\",city\r\n");
    for i in 0..rows {
        // Quoted fields with line breaks, commas and doubled quotes, so a line break is not
        // always a record boundary.
        let note = match i % 4 {
            0 => format!("\"line one\nline two {i}\""),
            1 => format!("\"say \"\"hi\"\", {i}\""),
            2 => format!("plain {i}"),
            _ => format!("\"{}\"", "\n".repeat(i % 7)),
        };
        body.push_str(&format!("{i},{note},city-{i}\r\n"));
    }
    body
}

fn expected_note(i: usize) -> String {
    match i % 4 {
        0 => format!("line one\nline two {i}"),
        1 => format!("say \"hi\", {i}"),
        2 => format!("plain {i}"),
        _ => "\n".repeat(i % 7),
    }
}

fn assert_csv_landed(lines: &[serde_json::Value], key: &str, rows: usize) {
    let recs = records_of(lines, key);
    assert_eq!(recs.len(), rows, "every row once");
    for (i, r) in recs.iter().enumerate() {
        assert_eq!(r["id"], i.to_string(), "in order");
        assert_eq!(r["note, with comma"], expected_note(i), "row {i}");
        assert_eq!(r["city"], format!("city-{i}"));
    }
}

/// CSV with quoted line breaks, cut inside the header and inside quoted fields: the header
/// (read from the first chunk) names the fields of every chunk's rows.
#[tokio::test]
async fn csv_rows_straddling_parts_and_chunks_keep_their_header() {
    let t = start_small_chunks().await;
    let c = t.client();
    let rows = 1500;
    let body = csv_body(rows);
    let b = body.as_bytes();
    let in_quotes = body.find("line one\nline").unwrap() + 9;
    let cuts = [5, in_quotes, b.len() / 3, b.len() / 3 * 2 + 1];
    upload_cut(&c, "mp/notes.csv", b, &cuts)
        .await
        .expect("complete");
    // The same object gzip'd and cut at arbitrary bytes of the compressed stream.
    let gz = gzip(b);
    let cuts = [10, gz.len() / 2, gz.len() - 3];
    upload_cut(&c, "mp/notes.csv.gz", &gz, &cuts)
        .await
        .expect("complete gzip");
    let lines = t.landed().await;
    assert_csv_landed(&lines, "mp/notes.csv", rows);
    assert_csv_landed(&lines, "mp/notes.csv.gz", rows);
}

/// A bad record far into the object (many chunks in): InvalidArgument naming its line in the
/// object, and nothing of the object lands, as for a PutObject.
#[tokio::test]
async fn a_bad_record_in_a_late_chunk_keeps_nothing() {
    let t = start_small_chunks().await;
    let c = t.client();
    let rows = 3000;
    let mut body: String = (0..rows).map(|i| format!("{{\"id\":{i}}}\n")).collect();
    body.push_str("{\"id\": oops}\n");
    let b = body.as_bytes();
    let (code, message) = upload_cut(&c, "mp/bad.ndjson", b, &[b.len() / 2])
        .await
        .expect_err("a bad record");
    assert_eq!(code, "InvalidArgument", "{message}");
    assert!(
        message.contains(&format!("line {}", rows + 1)),
        "names the object's line: {message}"
    );
    // A bad CSV row in a late chunk names its line in the object too (header counted once).
    let mut csv = String::from("a,b\n");
    for i in 0..3000 {
        csv.push_str(&format!("{i},x\n"));
    }
    csv.push_str("1,2,3\n");
    let (code, message) = upload_cut(&c, "mp/bad.csv", csv.as_bytes(), &[100])
        .await
        .expect_err("a bad row");
    assert_eq!(code, "InvalidArgument", "{message}");
    assert!(message.contains("line 3002"), "{message}");
    assert!(t.landed().await.is_empty(), "nothing landed");
}

/// A JSON array does not split: it is parsed whole, however many parts it came in.
#[tokio::test]
async fn a_json_array_in_many_parts_is_parsed_whole() {
    let t = start_small_chunks().await;
    let c = t.client();
    let items: Vec<String> = (0..2000).map(|i| format!("{{\"id\":{i}}}")).collect();
    let body = format!("[{}]", items.join(",\n"));
    let b = body.as_bytes();
    upload_cut(&c, "mp/all.json", b, &[3, b.len() / 2])
        .await
        .expect("complete");
    let lines = t.landed().await;
    let ids: Vec<i64> = records_of(&lines, "mp/all.json")
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, (0..2000).collect::<Vec<_>>());
}
