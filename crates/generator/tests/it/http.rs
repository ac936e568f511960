//! The HTTP target against a real axum server on 127.0.0.1: formats and headers arrive
//! intact, 503 + Retry-After is retried and honoured, a 4xx is fatal with its reason, a dead
//! port is retried then given up on, and the rate limit spaces requests.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use generator::{
    Config, Customer, Format, GenError, HttpTarget, Progress, decode_batch, generate, send_http,
};
use records::Format::{Csv, Json, Ndjson};

#[derive(Default)]
struct Server {
    /// Responses to give, in order; 200 once they run out.
    script: VecDeque<(u16, Option<&'static str>, &'static str)>,
    received: Vec<(HeaderMap, Bytes)>,
}

type Shared = Arc<Mutex<Server>>;

async fn listener(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let mut s = s.lock().unwrap();
    s.received.push((headers, body));
    match s.script.pop_front() {
        None => StatusCode::OK.into_response(),
        Some((status, retry_after, text)) => {
            let mut r = (StatusCode::from_u16(status).unwrap(), text).into_response();
            if let Some(v) = retry_after {
                r.headers_mut().insert("retry-after", v.parse().unwrap());
            }
            r
        }
    }
}

/// Starts a server answering with `script`; returns its URL and state.
async fn serve(script: Vec<(u16, Option<&'static str>, &'static str)>) -> (String, Shared) {
    let state: Shared = Arc::new(Mutex::new(Server {
        script: script.into(),
        received: Vec::new(),
    }));
    let app = Router::new()
        .route("/contentListener", post(listener))
        .with_state(state.clone());
    let sock = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(sock, app).await.unwrap() });
    (format!("http://{addr}/contentListener"), state)
}

fn records(n: u64) -> Vec<Customer> {
    generate(&Config {
        seed: 4,
        initial_customers: n,
        changes: 0,
        ..Config::clean()
    })
}

fn target(url: &str, format: Format) -> HttpTarget {
    let mut t = HttpTarget::new(url);
    t.format = format;
    t.batch_size = 10;
    t.initial_backoff = Duration::from_millis(1);
    t.max_backoff = Duration::from_millis(5);
    t.timeout = Duration::from_secs(10);
    t
}

#[tokio::test]
async fn every_format_arrives_intact_with_headers_and_attributes() {
    let sent = records(25);
    for format in Format::ALL {
        let (url, state) = serve(vec![]).await;
        let mut t = target(&url, format);
        t.headers = vec![("x-snowstream-stream".into(), "customers".into())];
        t.attributes = vec![("source".into(), "crm".into())];
        let progress = Progress::hidden();
        let summary = send_http(&t, &sent, &progress).await.unwrap();
        assert_eq!(
            (summary.batches, summary.sent, summary.acknowledged),
            (3, 25, 25)
        );
        assert_eq!((summary.retried, summary.failed), (0, 0));

        let s = state.lock().unwrap();
        let mut got = Vec::new();
        for (headers, body) in &s.received {
            assert_eq!(headers["content-type"], format.content_type());
            assert_eq!(headers["x-snowstream-stream"], "customers");
            if format == Format::FlowFileV3 {
                assert!(
                    !headers.contains_key("source"),
                    "attribute leaked into headers"
                );
                let ff =
                    flowfile::decode_all(flowfile::Version::V3, body, flowfile::Limits::default())
                        .unwrap();
                assert!(
                    ff.iter()
                        .all(|f| f.attributes.contains(&("source".into(), "crm".into())))
                );
            } else {
                assert_eq!(headers["source"], "crm");
            }
            got.extend(decode_batch(body, format).unwrap());
        }
        assert_eq!(got, sent, "{format}");
    }
}

#[tokio::test]
async fn busy_server_is_retried_honouring_retry_after() {
    let (url, state) = serve(vec![
        (503, Some("1"), "queue full"),
        (503, Some("1"), "queue full"),
    ])
    .await;
    let sent = records(5);
    let t = target(&url, Format::Records(Ndjson));
    let progress = Progress::hidden();
    let started = Instant::now();
    let summary = send_http(&t, &sent, &progress).await.unwrap();
    // The 1 ms backoff would retry at once; Retry-After asks for a second each time.
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        (
            summary.sent,
            summary.acknowledged,
            summary.retried,
            summary.failed
        ),
        (5, 5, 2, 0)
    );
    let s = state.lock().unwrap();
    assert_eq!(s.received.len(), 3);
    assert!(
        s.received.iter().all(|(_, b)| b == &s.received[0].1),
        "retries must resend the same body"
    );
}

#[tokio::test]
async fn client_error_is_fatal_and_shows_the_reason() {
    let (url, state) = serve(vec![(400, None, "line 3: updated_at is not a time")]).await;
    let sent = records(30);
    let progress = Progress::hidden();
    let err = send_http(&target(&url, Format::Records(Csv)), &sent, &progress)
        .await
        .unwrap_err();
    match &err {
        GenError::Rejected { status, reason, .. } => {
            assert_eq!(*status, 400);
            assert_eq!(reason, "line 3: updated_at is not a time");
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert!(
        err.to_string().contains("updated_at is not a time"),
        "{err}"
    );
    assert_eq!(
        state.lock().unwrap().received.len(),
        1,
        "a 4xx must not be retried"
    );
    let s = progress.summary();
    assert_eq!(
        (s.sent, s.acknowledged, s.retried, s.failed),
        (10, 0, 0, 10)
    );
}

#[tokio::test]
async fn too_many_requests_is_retried_not_fatal() {
    let (url, _state) = serve(vec![(429, Some("0"), "slow down")]).await;
    let progress = Progress::hidden();
    let s = send_http(&target(&url, Format::Records(Json)), &records(3), &progress)
        .await
        .unwrap();
    assert_eq!((s.acknowledged, s.retried), (3, 1));
}

#[tokio::test]
async fn connection_errors_are_retried_then_given_up() {
    // A port nothing listens on any more.
    let sock = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/contentListener", sock.local_addr().unwrap());
    drop(sock);
    let mut t = target(&url, Format::Records(Ndjson));
    t.max_retries = 2;
    let progress = Progress::hidden();
    let err = send_http(&t, &records(4), &progress).await.unwrap_err();
    match &err {
        GenError::GaveUp { attempts, .. } => assert_eq!(*attempts, 3),
        other => panic!("expected GaveUp, got {other:?}"),
    }
    let s = progress.summary();
    assert_eq!((s.retried, s.failed, s.acknowledged), (2, 4, 0));
}

#[tokio::test]
async fn the_rate_limit_spaces_requests() {
    let (url, _state) = serve(vec![]).await;
    let mut t = target(&url, Format::Records(Ndjson));
    t.batch_size = 5;
    t.rate = 50.0; // 15 records: the third batch may start only after 10/50 s
    let started = Instant::now();
    let s = send_http(&t, &records(15), &Progress::hidden())
        .await
        .unwrap();
    assert_eq!(s.acknowledged, 15);
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn concurrent_requests_deliver_every_batch_once() {
    let (url, state) = serve(vec![(503, Some("0"), "busy")]).await;
    let sent = records(95);
    let mut t = target(&url, Format::Records(Ndjson));
    t.concurrency = 4;
    let sender = std::sync::Arc::new(generator::HttpSender::new(t).unwrap());
    let progress = Progress::hidden();
    let mut acked = Vec::new();
    let batches = sent.chunks(10).map(<[_]>::to_vec);
    generator::send_batches(sender, batches, None, &progress, |b| {
        acked.extend_from_slice(b)
    })
    .await
    .unwrap();
    let by_id = |v: &mut Vec<Customer>| v.sort_by_key(|r| r.id);
    let mut received: Vec<Customer> = state
        .lock()
        .unwrap()
        .received
        .iter()
        .flat_map(|(_, b)| decode_batch(b, Format::Records(Ndjson)).unwrap())
        .collect();
    // One batch was answered 503 and re-sent: it arrived twice, was acknowledged once.
    assert_eq!(received.len(), 105);
    received.sort_by_key(|r| r.id);
    received.dedup();
    let mut expected = sent.clone();
    by_id(&mut expected);
    by_id(&mut acked);
    assert_eq!(received, expected);
    assert_eq!(acked, expected);
    let s = progress.summary();
    assert_eq!((s.batches, s.acknowledged, s.retried), (10, 95, 1));
}

#[tokio::test]
async fn nothing_is_sent_once_the_stop_time_has_passed() {
    let (url, state) = serve(vec![]).await;
    let sender = std::sync::Arc::new(
        generator::HttpSender::new(target(&url, Format::Records(Json))).unwrap(),
    );
    let progress = Progress::hidden();
    let batches = records(20)
        .chunks(10)
        .map(<[_]>::to_vec)
        .collect::<Vec<_>>();
    let stop_at = Some(tokio::time::Instant::now());
    generator::send_batches(sender, batches, stop_at, &progress, |_| {
        panic!("nothing to ack")
    })
    .await
    .unwrap();
    assert!(state.lock().unwrap().received.is_empty());
    assert_eq!(progress.summary().sent, 0);
}

#[tokio::test]
async fn gzip_bodies_are_flagged_and_decompress_to_the_records() {
    use std::io::Read as _;
    let (url, state) = serve(vec![]).await;
    let mut t = target(&url, Format::Records(Csv));
    t.gzip = true;
    let sent = records(12);
    send_http(&t, &sent, &Progress::hidden()).await.unwrap();
    let s = state.lock().unwrap();
    let mut got = Vec::new();
    for (headers, body) in &s.received {
        assert_eq!(headers["content-encoding"], "gzip");
        assert_eq!(headers["flowfile-gzipped"], "true");
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_end(&mut plain)
            .unwrap();
        got.extend(decode_batch(&plain, Format::Records(Csv)).unwrap());
    }
    assert_eq!(got, sent);
}
