//! Two-phase holds (NiFi ListenHTTP's answer to PostHTTP's `x-prefer-acknowledge-uri`,
//! ListenHTTPServlet.java, doPost) are bounded in number and in the memory they really
//! take: a client that never confirms cannot grow the server without limit.

use crate::support::receiver::{NDJSON, Reply, TestServer, post_as, send};

async fn hold(s: &TestServer, id: u32) -> Reply {
    post_as(
        s,
        NDJSON,
        &[("x-prefer-acknowledge-uri", "true")],
        format!("{{\"id\":{id}}}\n"),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_number_of_holds_is_bounded() {
    let s = TestServer::start_with(|setup| setup.server.max_holds = 2).await;
    let first = hold(&s, 1).await;
    assert_eq!(first.status, 303, "{}", first.text);
    assert_eq!(hold(&s, 2).await.status, 303);
    let third = hold(&s, 3).await;
    assert_eq!(third.status, 503, "{}", third.text);
    assert!(third.header("retry-after").is_some());
    // Confirming one makes room again.
    let location = first.header("location").expect("hold URI").to_owned();
    let r = send(s.client.delete(s.url(&location))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(hold(&s, 4).await.status, 303);
    let landed = s.landed().await;
    assert_eq!(landed.len(), 1, "only the confirmed hold landed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_memory_is_counted_as_allocated() {
    // Each tiny batch packs into ~100 bytes but allocates 4 KiB: two do not fit in 6,000.
    let s = TestServer::start_with(|setup| setup.server.max_hold_bytes = 6000).await;
    assert_eq!(hold(&s, 1).await.status, 303);
    let second = hold(&s, 2).await;
    assert_eq!(second.status, 503, "{}", second.text);
}
