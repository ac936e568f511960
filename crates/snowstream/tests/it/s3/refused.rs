//! What the S3 front door refuses before reading a body, as Amazon S3 refuses it (issue 23):
//! a request signed with AWS Signature Version 2, in its `Authorization` header or as a
//! presigned URL, fresh or years old (S3: 400 `InvalidRequest`, "The authorization mechanism
//! you have provided is not supported. Please use AWS4-HMAC-SHA256.", for every bucket made
//! since June 2020); a V4 presigned URL valid for more than a week (S3: 400
//! `AuthorizationQueryParametersError`); and a browser-form POST Object, which s3s would read
//! whole before checking who sent it. Nothing of any of them lands.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::s3::*;

/// Sends `head` and the first bytes of a body it announces as much larger, then reads the
/// answer: it must come without the rest of the body.
async fn answer_without_body(t: &S3Test, head: String) -> String {
    let mut s = TcpStream::connect(t.addr()).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&[b'x'; 1024]).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
        .await
        .expect("answered before the body was sent")
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signature_v2_and_browser_form_posts_are_refused_before_the_body() {
    let t = start(|_| {}).await;
    let addr = t.addr();

    // A V2 header signature, as boto3's "s3" signer or an old client sends it; the date is
    // old on purpose: V2 has no time window of its own.
    let v2 = format!(
        "PUT /raw/v2.ndjson HTTP/1.1\r\nHost: {addr}\r\nDate: Tue, 01 Jan 2019 00:00:00 GMT\r\n\
         Authorization: AWS {AK}:c2lnbmF0dXJlLW9mLWEtY2FwdHVyZWQtcmVxdWVzdA==\r\n\
         Content-Type: application/x-ndjson\r\nContent-Length: 300000000\r\n\r\n"
    );
    let answer = answer_without_body(&t, v2).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("<Code>InvalidRequest</Code>"), "{answer}");
    assert!(answer.contains("AWS4-HMAC-SHA256"), "{answer}");

    // The same captured V2 request replayed with another body, and V2 presigned URLs (boto3's
    // default against a custom endpoint), fresh and expired years ago.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for target in [
        "/raw/v2.ndjson".to_owned(),
        format!(
            "/raw/pre.ndjson?AWSAccessKeyId={AK}&Expires={}&Signature=c2ln",
            now + 300
        ),
        format!("/raw/old.ndjson?AWSAccessKeyId={AK}&Expires=1546300800&Signature=c2ln"),
    ] {
        let auth = if target.contains('?') {
            String::new()
        } else {
            format!("Authorization: AWS {AK}:c2lnbmF0dXJlLW9mLWEtY2FwdHVyZWQtcmVxdWVzdA==\r\n")
        };
        let replay = format!(
            "PUT {target} HTTP/1.1\r\nHost: {addr}\r\n{auth}\
             Content-Type: application/x-ndjson\r\nContent-Length: 4096\r\n\r\n"
        );
        let answer = answer_without_body(&t, replay).await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{target}: {answer}");
        assert!(answer.contains("<Code>InvalidRequest</Code>"), "{answer}");
    }
    // A V4 presigned URL valid for more than a week.
    let week_plus = format!(
        "PUT /raw/week.ndjson?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={AK}%2F20261207%2Fus-east-1%2Fs3%2Faws4_request\
         &X-Amz-Date=20261207T000000Z&X-Amz-Expires=604801&X-Amz-SignedHeaders=host&X-Amz-Signature=abc HTTP/1.1\r\n\
         Host: {addr}\r\nContent-Length: 4096\r\n\r\n"
    );
    let answer = answer_without_body(&t, week_plus).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(
        answer.contains("<Code>AuthorizationQueryParametersError</Code>"),
        "{answer}"
    );

    // An anonymous browser-form upload announcing 300 MB.
    let form = format!(
        "POST /raw HTTP/1.1\r\nHost: {addr}\r\n\
         Content-Type: multipart/form-data; boundary=B0undary\r\nContent-Length: 300000000\r\n\r\n"
    );
    let answer = answer_without_body(&t, form).await;
    assert!(answer.starts_with("HTTP/1.1 501"), "{answer}");
    assert!(answer.contains("<Code>NotImplemented</Code>"), "{answer}");

    // A V4 client is served as before.
    let c = t.client();
    put(&c, "raw", "v4.ndjson", b"{\"id\":\"v4-1\"}\n".to_vec())
        .send()
        .await
        .unwrap();
    let landed = t.landed().await;
    let ids: Vec<&str> = landed
        .iter()
        .filter_map(|l| l["record"]["id"].as_str())
        .collect();
    assert_eq!(ids, ["v4-1"], "nothing of the refused requests landed");
}
