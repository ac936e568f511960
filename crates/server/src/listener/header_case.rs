//! Header names as the client spelled them. hyper lowercases every header name (and keeps
//! the original case only in a type it does not export), but NiFi's ListenHTTP (Jetty) keeps
//! the case the client sent, and that spelling becomes the attribute name. So a connection
//! of the HTTP door is read through a [`Scanner`] that finds each HTTP/1 request head in the
//! (decrypted) bytes as hyper reads them; the connection's service then hands the names of
//! each head to its request as a [`RawHeaderNames`](crate::RawHeaderNames).
//!
//! The scanner follows message framing (Content-Length, chunked) to find each head; anything
//! it does not understand (HTTP/2, an oversized head) switches it off for the connection, and
//! the names are then lowercase, never wrong.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// A head larger than this switches the scanner off (hyper refuses such heads anyway).
const MAX_HEAD: usize = 64 * 1024;

/// One connection's scanner, shared by its stream (which feeds it) and its service (which
/// takes the heads it found, one per request, in order).
pub(crate) type Shared = Arc<Mutex<Scanner>>;

/// Where in the byte stream the scanner is.
#[derive(Debug, Clone, Copy)]
enum State {
    /// Reading a request head (the bytes so far are in the scanner's buffer).
    Head,
    /// Skipping this many body bytes.
    Body(u64),
    /// Reading a chunk-size line (into the buffer).
    ChunkSize,
    /// Skipping a chunk's data and its CRLF.
    ChunkData(u64),
    /// Reading trailer lines until an empty one (each into the buffer).
    Trailer,
    /// Not HTTP/1 as understood: stop.
    Off,
}

/// Finds request heads in an HTTP/1 byte stream.
#[derive(Debug)]
pub(crate) struct Scanner {
    state: State,
    /// The head or line being read; one buffer for the connection's life, so a keep-alive
    /// connection does not allocate one per request.
    buf: Vec<u8>,
    heads: VecDeque<Vec<String>>,
}

impl Default for Scanner {
    fn default() -> Self {
        Scanner {
            state: State::Head,
            buf: Vec::new(),
            heads: VecDeque::new(),
        }
    }
}

impl Scanner {
    /// Moves to `state` with an empty buffer.
    fn enter(&mut self, state: State) {
        self.buf.clear();
        self.state = state;
    }

    /// The header names of the next head found, in the order hyper hands out requests.
    pub(crate) fn next_head(&mut self) -> Option<Vec<String>> {
        self.heads.pop_front()
    }

    /// Reads `data`, the next bytes of the connection.
    pub(crate) fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            match self.state {
                State::Off => return,
                State::Head => {
                    // A blank line before a request line is allowed (RFC 9112 §2.2).
                    if self.buf.is_empty() && (data[0] == b'\r' || data[0] == b'\n') {
                        data = &data[1..];
                        continue;
                    }
                    // The usual case, a whole head in this read: parsed where it lies.
                    if self.buf.is_empty()
                        && let Some(i) = memchr::memmem::find(data, b"\r\n\r\n")
                        && i + 4 <= MAX_HEAD
                    {
                        let next = record_head(&mut self.heads, &data[..i + 4]);
                        data = &data[i + 4..];
                        self.enter(next);
                        continue;
                    }
                    let head = &mut self.buf;
                    let start = head.len().saturating_sub(3);
                    let take = data.len().min(MAX_HEAD + 4 - head.len().min(MAX_HEAD));
                    head.extend_from_slice(&data[..take]);
                    match memchr::memmem::find(&head[start..], b"\r\n\r\n") {
                        Some(i) => {
                            let end = start + i + 4;
                            let rest = head.len() - end;
                            data = &data[take - rest..];
                            let next = record_head(&mut self.heads, &head[..end]);
                            self.enter(next);
                        }
                        None if head.len() > MAX_HEAD => self.enter(State::Off),
                        None => data = &data[take..],
                    }
                }
                State::Body(left) | State::ChunkData(left) => {
                    let n = left.min(data.len() as u64);
                    let left = left - n;
                    data = &data[n as usize..];
                    self.state = match (self.state, left) {
                        (State::ChunkData(_), 0) => State::ChunkSize,
                        (State::ChunkData(_), l) => State::ChunkData(l),
                        (_, 0) => State::Head,
                        (_, l) => State::Body(l),
                    };
                }
                State::ChunkSize | State::Trailer => {
                    let nl = data.iter().position(|&b| b == b'\n');
                    let take = nl.map_or(data.len(), |i| i + 1);
                    self.buf.extend_from_slice(&data[..take]);
                    data = &data[take..];
                    if self.buf.len() > MAX_HEAD {
                        self.enter(State::Off);
                    } else if nl.is_some() {
                        let text = String::from_utf8_lossy(&self.buf);
                        let text = text.trim();
                        let next = match self.state {
                            State::ChunkSize => {
                                let size = text.split(';').next().unwrap_or("").trim();
                                match u64::from_str_radix(size, 16) {
                                    Ok(0) => State::Trailer,
                                    // The data, then its CRLF.
                                    Ok(n) => State::ChunkData(n + 2),
                                    Err(_) => State::Off,
                                }
                            }
                            _ if text.is_empty() => State::Head,
                            _ => State::Trailer,
                        };
                        self.enter(next);
                    }
                }
            }
        }
    }
}

/// Records the header names of `head` (a whole request head) in `heads`; the state after it.
fn record_head(heads: &mut VecDeque<Vec<String>>, head: &[u8]) -> State {
    if head.starts_with(b"PRI * HTTP/2") {
        return State::Off;
    }
    let text = String::from_utf8_lossy(head);
    let mut names = Vec::new();
    let mut chunked = false;
    let mut length = 0u64;
    for line in text.split("\r\n").skip(1).filter(|l| !l.is_empty()) {
        let Some((name, value)) = line.split_once(':') else {
            return State::Off;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked |= value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("content-length") {
            match value.parse() {
                Ok(n) => length = n,
                Err(_) => return State::Off,
            }
        }
        names.push(name.to_owned());
    }
    heads.push_back(names);
    if chunked {
        State::ChunkSize
    } else if length > 0 {
        State::Body(length)
    } else {
        State::Head
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_are_found_across_bodies_chunks_and_split_reads() {
        let stream = b"POST /a HTTP/1.1\r\nX-Tenant: a\r\nContent-Length: 5\r\n\r\nhello\
POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\nFileName: f\r\n\r\n3\r\n\r\n\r\r\n0\r\nT: x\r\n\r\n\
HEAD /c HTTP/1.1\r\nHOST: h\r\n\r\n";
        for step in [1, 2, 7, stream.len()] {
            let mut s = Scanner::default();
            for part in stream.chunks(step) {
                s.feed(part);
            }
            let heads: Vec<_> = s.heads.into_iter().collect();
            assert_eq!(
                heads,
                vec![
                    vec!["X-Tenant".to_owned(), "Content-Length".to_owned()],
                    vec!["Transfer-Encoding".to_owned(), "FileName".to_owned()],
                    vec!["HOST".to_owned()],
                ],
                "read {step} bytes at a time"
            );
        }
    }

    #[test]
    fn http2_switches_it_off() {
        let mut s = Scanner::default();
        s.feed(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\nX: y\r\n\r\n");
        assert_eq!(s.heads.len(), 0);
        assert!(matches!(s.state, State::Off));
    }
}
