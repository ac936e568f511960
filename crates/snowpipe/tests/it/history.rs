//! `loadHistoryScan` as Snowflake's REST reference documents it ("Snowpipe REST API",
//! `loadHistoryScan`, response example): `completeResult` is the text `"true"` or `"false"`,
//! and an answer that is not complete is followed by another from its `rangeEndTime`. The
//! server here is a socket that replays the documented response body, not our wire types.

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

/// Serves `bodies` in order, one per connection; records each request line.
async fn serve(bodies: Vec<String>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        for body in bodies {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            let mut buf = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = s.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                head.extend_from_slice(&buf[..n]);
            }
            let text = String::from_utf8_lossy(&head).into_owned();
            log.lock()
                .unwrap()
                .push(text.lines().next().unwrap_or_default().to_owned());
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            );
            s.write_all(answer.as_bytes()).await.unwrap();
        }
    });
    (format!("http://{addr}"), seen)
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
