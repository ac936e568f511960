//! A raw HTTP/1.1 client for the NiFi conformance tests: the exact bytes and header case a
//! NiFi processor writes, on one kept-alive connection as HttpClient's and OkHttp's pools keep.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// An answer, as read off the socket.
#[derive(Debug)]
pub struct Raw {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Raw {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// One kept-alive HTTP/1.1 connection, as HttpClient's and OkHttp's pools keep them.
pub struct Conn {
    stream: TcpStream,
    host: String,
    buf: Vec<u8>,
}

impl Conn {
    /// Connects to `base` (`http://host:port`).
    pub async fn open(base: &str) -> Conn {
        let host = base.trim_start_matches("http://").to_owned();
        let stream = TcpStream::connect(&host).await.expect("connect");
        Conn {
            stream,
            host,
            buf: Vec::new(),
        }
    }

    /// Writes `method path` with `headers` (names as given, in order) and `body` (chunked
    /// when `chunked`, else with a Content-Length when there is one), reads the answer.
    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
        chunked: bool,
    ) -> Raw {
        let mut req = format!("{method} {path} HTTP/1.1\r\n").into_bytes();
        for (k, v) in headers {
            req.extend_from_slice(k.as_bytes());
            req.extend_from_slice(b": ");
            req.extend_from_slice(v.as_bytes());
            req.extend_from_slice(b"\r\n");
        }
        match body {
            Some(_) if chunked => req.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
            Some(b) => req.extend_from_slice(format!("Content-Length: {}\r\n", b.len()).as_bytes()),
            None => {}
        }
        req.extend_from_slice(
            format!("Host: {}\r\nConnection: Keep-Alive\r\n\r\n", self.host).as_bytes(),
        );
        if let Some(b) = body {
            if chunked {
                // Two chunks, as a streaming entity writes them.
                let (a, rest) = b.split_at(b.len() / 2);
                for part in [a, rest] {
                    if !part.is_empty() {
                        req.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
                        req.extend_from_slice(part);
                        req.extend_from_slice(b"\r\n");
                    }
                }
                req.extend_from_slice(b"0\r\n\r\n");
            } else {
                req.extend_from_slice(b);
            }
        }
        self.stream.write_all(&req).await.expect("write request");
        tokio::time::timeout(Duration::from_secs(20), self.read_answer(method == "HEAD"))
            .await
            .expect("answer within 20 s")
    }

    async fn read_answer(&mut self, head: bool) -> Raw {
        let end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            self.fill().await;
        };
        let text = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        self.buf.drain(..end + 4);
        let mut lines = text.split("\r\n");
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.to_owned(), v.trim().to_owned()))
            .collect();
        let len: usize = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .map_or(0, |(_, v)| v.parse().unwrap());
        let len = if head { 0 } else { len };
        while self.buf.len() < len {
            self.fill().await;
        }
        let body = String::from_utf8_lossy(&self.buf[..len]).into_owned();
        self.buf.drain(..len);
        Raw {
            status,
            headers,
            body,
        }
    }

    async fn fill(&mut self) {
        let mut chunk = [0u8; 8192];
        let n = self.stream.read(&mut chunk).await.expect("read");
        assert!(n > 0, "server closed the connection");
        self.buf.extend_from_slice(&chunk[..n]);
    }
}
