//! The Snowpipe client against the bodies of Snowflake's REST reference ("Snowpipe REST API":
//! the request and response examples of `insertFiles`, `insertReport` and `loadHistoryScan`,
//! and the error body), replayed by a socket, not made from our wire types: `completeResult`
//! is the text `"true"` or `"false"` in loadHistoryScan (an answer that is not complete is
//! followed from its `rangeEndTime`) and a boolean in insertReport.

use std::sync::{Arc, Mutex};

use snowpipe::{JwtSigner, SnowpipeClient};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The reference's example response, with `completeResult` and the range's end given.
fn documented(complete: &str, range_end: &str, path: &str) -> String {
    format!(
        r#"{{
  "pipe": "TESTDB.TESTSCHEMA.pipe2",
  "completeResult": "{complete}",
  "startTimeInclusive": "2017-08-25T18:42:31.081Z",
  "endTimeExclusive": "2017-08-25T22:43:45.552Z",
  "rangeStartTime": "2017-08-25T22:43:45.383Z",
  "rangeEndTime": "{range_end}",
  "files": [
    {{
      "path": "{path}",
      "stageLocation": "s3://mystage/",
      "fileSize": 57,
      "timeReceived": "2017-08-25T22:43:45.383Z",
      "lastInsertTime": "2017-08-25T22:43:45.383Z",
      "rowsInserted": 1,
      "rowsParsed": 1,
      "errorsSeen": 0,
      "errorLimit": 1,
      "complete": true,
      "status": "LOADED"
    }}
  ]
}}"#
    )
}

/// Serves `bodies` in order (200 OK), one per connection; records each request line.
async fn serve(bodies: Vec<String>) -> (String, Arc<Mutex<Vec<String>>>) {
    let answers = bodies.into_iter().map(|b| (200, b)).collect();
    let (base, seen, _) = serve_answers(answers).await;
    (base, seen)
}

/// Serves `(status, body)` answers in order, one per connection; records each request line
/// and each request body.
async fn serve_answers(
    answers: Vec<(u16, String)>,
) -> (String, Arc<Mutex<Vec<String>>>, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let (log, sent) = (seen.clone(), bodies.clone());
    tokio::spawn(async move {
        for (status, body) in answers {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut req = Vec::new();
            let mut buf = [0u8; 4096];
            let head_end = loop {
                if let Some(i) = req.windows(4).position(|w| w == b"\r\n\r\n") {
                    break i + 4;
                }
                let n = s.read(&mut buf).await.unwrap();
                if n == 0 {
                    break req.len();
                }
                req.extend_from_slice(&buf[..n]);
            };
            let head = String::from_utf8_lossy(&req[..head_end]).into_owned();
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap_or(0))
                })
                .unwrap_or(0);
            while req.len() < head_end + length {
                let n = s.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                req.extend_from_slice(&buf[..n]);
            }
            log.lock()
                .unwrap()
                .push(head.lines().next().unwrap_or_default().to_owned());
            sent.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&req[head_end..]).into_owned());
            let reason = if status == 200 { "OK" } else { "Unauthorized" };
            let answer = format!(
                "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            );
            s.write_all(answer.as_bytes()).await.unwrap();
        }
    });
    (format!("http://{addr}"), seen, bodies)
}

fn client(base: &str) -> SnowpipeClient {
    let signer = JwtSigner::from_pem(
        "myorg.myaccount",
        "loader",
        super::jwt::new_key().as_bytes(),
    )
    .unwrap();
    SnowpipeClient::new(base, "TESTDB.TESTSCHEMA.pipe2", Arc::new(signer)).unwrap()
}

#[tokio::test]
async fn an_incomplete_answer_is_followed_from_its_range_end() {
    let (base, seen) = serve(vec![
        documented("false", "2017-08-25T22:43:45.383Z", "first.csv"),
        documented("true", "2017-08-25T22:50:00.000Z", "second.csv"),
    ])
    .await;
    let c = client(&base);
    let (files, complete) = c
        .load_history_scan(
            "2017-08-25T18:42:31.081Z",
            Some("2017-08-25T23:00:00.000Z"),
            5,
        )
        .await
        .expect("both pages parse");
    assert!(complete);
    let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["first.csv", "second.csv"]);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(
        seen[0].contains("startTimeInclusive=2017-08-25T18%3A42%3A31.081Z")
            && seen[0].contains("endTimeExclusive=2017-08-25T23%3A00%3A00.000Z"),
        "{seen:?}"
    );
    assert!(
        seen[1].contains("startTimeInclusive=2017-08-25T22%3A43%3A45.383Z"),
        "the second page starts at the first's rangeEndTime: {seen:?}"
    );
}

#[tokio::test]
async fn pages_are_bounded() {
    let pages = (0..3)
        .map(|i| documented("false", &format!("2017-08-25T22:4{i}:00.000Z"), "x.csv"))
        .collect();
    let (base, seen) = serve(pages).await;
    let (files, complete) = client(&base)
        .load_history_scan("2017-08-25T18:42:31.081Z", None, 2)
        .await
        .unwrap();
    assert!(!complete);
    assert_eq!(files.len(), 2);
    assert_eq!(seen.lock().unwrap().len(), 2);
}

/// insertFiles' documented request and response, insertReport's documented response (its
/// `completeResult` a boolean), and Snowflake's error body for a refused JWT.
#[tokio::test]
async fn insert_files_and_insert_report_read_the_documented_bodies() {
    let report = r#"{
  "pipe": "SNOWPIPE_DB.PUBLIC.MYPIPE",
  "completeResult": true,
  "nextBeginMark": "1_39",
  "files": [
    {
      "path": "data2859002086815673867.csv",
      "stageLocation": "s3://mybucket/",
      "fileSize": 57,
      "timeReceived": "2017-06-21T04:47:41.453Z",
      "lastInsertTime": "2017-06-21T04:48:28.575Z",
      "rowsInserted": 1,
      "rowsParsed": 1,
      "errorsSeen": 0,
      "errorLimit": 1,
      "complete": true,
      "status": "LOADED"
    }
  ],
  "statistics": {
    "activeFilesCount": 0
  }
}"#;
    let refused = r#"{"data":null,"code":"390144","message":"JWT token is invalid.","success":false,"headers":null}"#;
    let (base, seen, bodies) = serve_answers(vec![
        (
            200,
            r#"{"requestId":"b9d2e1a4-6f14-4bd2-b7a2-8c5a1a7e0c11","responseCode":"SUCCESS"}"#
                .into(),
        ),
        (200, report.into()),
        (401, refused.into()),
    ])
    .await;
    let c = client(&base);
    c.insert_files(&["data2859002086815673867.csv".to_owned()])
        .await
        .expect("insertFiles accepted");
    let r = c
        .insert_report(Some("1_38"))
        .await
        .expect("the documented report parses");
    assert!(r.complete_result);
    assert_eq!(r.next_begin_mark.as_deref(), Some("1_39"));
    assert_eq!(r.files[0].status, "LOADED");
    assert_eq!(r.files[0].rows_inserted, Some(1));
    let err = c.insert_report(None).await.expect_err("401");
    assert_eq!(err.status, Some(401));
    assert!(
        err.message.contains("JWT token is invalid.") && err.message.contains("390144"),
        "{err:?}"
    );
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen[0].starts_with("POST /v1/data/pipes/TESTDB.TESTSCHEMA.pipe2/insertFiles?requestId="),
        "{seen:?}"
    );
    assert!(
        seen[1].contains("/insertReport?requestId=") && seen[1].contains("beginMark=1_38"),
        "{seen:?}"
    );
    // The documented request body: {"files":[{"path":…}]}.
    let sent: serde_json::Value = serde_json::from_str(&bodies.lock().unwrap()[0]).unwrap();
    assert_eq!(
        sent,
        serde_json::json!({"files": [{"path": "data2859002086815673867.csv"}]})
    );
}

/// insertFiles' documented answer listing files the pipe's PATTERN skipped.
#[tokio::test]
async fn files_the_pattern_skipped_are_read_from_the_answer() {
    let (base, _) = serve(vec![
        r#"{
  "requestId": "your_request_uuid",
  "responseCode": "SUCCESS",
  "unmatchedPatternFiles": ["some_file.txt", "another_file.dat"]
}"#
        .into(),
    ])
    .await;
    let answer = client(&base)
        .insert_files(&[
            "some_file.txt".into(),
            "another_file.dat".into(),
            "x.ndjson.zst".into(),
        ])
        .await
        .unwrap();
    assert_eq!(
        answer.unmatched_pattern_files,
        ["some_file.txt", "another_file.dat"]
    );
}
