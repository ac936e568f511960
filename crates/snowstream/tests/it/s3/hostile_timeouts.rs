//! A client that stalls in the middle of an object's body is answered `RequestTimeout` once
//! the body read timeout passes (S3's own answer to a socket "not read from or written to
//! within the timeout period"), nothing of the object is kept, and other clients are served
//! meanwhile.

use std::time::Duration;

use crate::support::s3::*;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use futures::StreamExt;
use hyper::body::Frame;

/// A body that sends its first bytes and then nothing, forever.
fn stalling_body(first: &'static [u8]) -> ByteStream {
    let frames = futures::stream::iter([Ok::<_, std::io::Error>(Frame::data(Bytes::from_static(
        first,
    )))])
    .chain(futures::stream::pending());
    ByteStream::from_body_1_x(http_body_util::StreamBody::new(frames))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_is_request_timeout_and_keeps_nothing() {
    let t = start(|s| s.s3.body_read_timeout = Duration::from_secs(1)).await;
    let c = t.client();
    let stalled = {
        let c = c.clone();
        tokio::spawn(async move {
            c.put_object()
                .bucket("raw")
                .key("in/stalled.ndjson")
                .content_length(1000)
                .body(stalling_body(b"{\"id\":1}\n"))
                .send()
                .await
        })
    };
    // Others are served while it stalls.
    put(&c, "raw", "in/ok.ndjson", b"{\"id\":2}\n")
        .send()
        .await
        .expect("a normal put");
    // Bounded wait, far above the 1 s timeout (the client's own limit is 30 s).
    let answer = tokio::time::timeout(Duration::from_secs(25), stalled)
        .await
        .expect("the stalled request is answered well before the client gives up")
        .expect("task");
    let err = answer.expect_err("a stalled body is refused");
    assert_eq!(err.code(), Some("RequestTimeout"), "{err:?}");
    let lines = t.landed().await;
    assert_eq!(lines.len(), 1, "only the normal object landed");
    assert_eq!(lines[0]["record"]["id"], 2);
}
