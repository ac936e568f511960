//! A request refused before its body is read (401 without credentials, 404 for an unknown
//! stream) is answered only once the body has been read and dropped, so the connection stays
//! usable (issue 24). This is how NiFi 1.x PostHTTP sends with Username/Password: Apache
//! HttpClient 4.5 without an auth cache writes the whole body (no `Expect: 100-continue`),
//! reads the 401, and sends the request again with `Authorization: Basic` on the same
//! kept-alive connection (PostHTTP.java at rel/nifi-1.28.1, `onTrigger`: a new
//! `HttpClientContext` per trigger; HttpClient's `MainClientExec` retries the 401 with the
//! credentials provider's Basic answer). Before, the unread body made the server close the
//! connection under the client, which saw a broken pipe on every transfer with a real body.

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::support::receiver::TestServer;
use server::BasicUser;

/// Writes one POST with `body` (and `auth`, if any), then reads one whole answer: status
/// line and body.
async fn exchange(
    conn: &mut BufReader<TcpStream>,
    path: &str,
    auth: Option<&str>,
    body: &[u8],
) -> (String, String) {
    let auth = auth.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-ndjson\r\n\
         {auth}Content-Length: {}\r\nConnection: keep-alive\r\n\r\n",
        body.len()
    );
    conn.get_mut().write_all(head.as_bytes()).await.unwrap();
    conn.get_mut()
        .write_all(body)
        .await
        .expect("the whole body is taken");
    let mut status = String::new();
    conn.read_line(&mut status).await.unwrap();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        conn.read_line(&mut line).await.unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap();
        }
    }
    let mut text = vec![0u8; length];
    conn.read_exact(&mut text).await.unwrap();
    (
        status.trim().to_owned(),
        String::from_utf8_lossy(&text).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_request_leaves_its_connection_usable() {
    let s = TestServer::start_with(|setup| {
        setup.server.basic_auth = vec![BasicUser {
            user: "nifi".into(),
            password: "s3cret".into(),
        }];
    })
    .await;
    let addr = s.base.trim_start_matches("http://").to_owned();
    let mut conn = BufReader::new(TcpStream::connect(&addr).await.unwrap());
    // 2 MB of records: far more than socket buffers hold unread.
    let body: Vec<u8> = (0..40_000u64)
        .flat_map(|i| format!("{{\"id\":{i},\"pad\":\"{:040}\"}}\n", i).into_bytes())
        .collect();
    assert!(body.len() > 2_000_000);
    let basic = "Basic bmlmaTpzM2NyZXQ="; // nifi:s3cret

    let (status, _) = exchange(&mut conn, "/contentListener", None, &body).await;
    assert!(status.starts_with("HTTP/1.1 401"), "{status}");
    let (status, text) = exchange(&mut conn, "/contentListener", Some(basic), &body).await;
    assert!(status.starts_with("HTTP/1.1 200"), "{status}: {text}");
    // An unknown stream is refused before its body too, and the connection goes on.
    let (status, _) = exchange(&mut conn, "/contentListener/nosuch", Some(basic), &body).await;
    assert!(status.starts_with("HTTP/1.1 404"), "{status}");
    let (status, text) =
        exchange(&mut conn, "/contentListener", Some(basic), b"{\"id\":-1}\n").await;
    assert!(status.starts_with("HTTP/1.1 200"), "{status}: {text}");
    assert_eq!(s.landed().await.len(), 40_001, "each accepted record once");
}
