//! What each request gets from its connection before the front door sees it: the header
//! names as the client spelled them (when the connection is scanned), the verified client
//! certificate (on TLS), and a body that fails once the client stalls.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use axum_server::tls::TlsInfo;
use bytes::Bytes;
use http::Request;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use tower::Service;
use tower_http::timeout::{TimeoutBody, TimeoutError};

use crate::attrs::RawHeaderNames;
use crate::auth::ClientCert;
use crate::listener::client_cert::describe;
use crate::listener::header_case::Shared;

/// The message of a body that stalled past the body read timeout (the S3 door answers it
/// with `RequestTimeout`; the HTTP door, which finds the [`TimeoutError`] under it, 408).
pub const BODY_STALLED: &str = "the request body sent nothing within the body read timeout";

/// The connection's service: hands each request what the connection knows, then calls the
/// front door's service with a [`StallBody`].
#[derive(Clone)]
pub(crate) struct ConnService<S> {
    inner: S,
    /// The connection's header-case scanner, when it is scanned.
    scanner: Option<Shared>,
    body_read_timeout: Duration,
    /// On TLS: the client certificate, read from the handshake's [`TlsInfo`] at the first
    /// request (one handshake, one certificate for the connection's life).
    cert: Option<Arc<OnceLock<Option<ClientCert>>>>,
}

impl<S> ConnService<S> {
    pub(crate) fn new(
        inner: S,
        scanner: Option<Shared>,
        body_read_timeout: Duration,
        tls: bool,
    ) -> Self {
        ConnService {
            inner,
            scanner,
            body_read_timeout,
            cert: tls.then(Arc::default),
        }
    }
}

impl<S> Service<Request<Incoming>> for ConnService<S>
where
    S: Service<Request<StallBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Incoming>) -> Self::Future {
        let mut req = req.map(|body| StallBody::new(body, self.body_read_timeout));
        if let Some(scanner) = &self.scanner {
            // hyper calls the service once per head, in order, after reading that head.
            let names = scanner.lock().expect("lock").next_head();
            if let Some(names) = names
                && names.len() == req.headers().len()
            {
                req.extensions_mut().insert(RawHeaderNames::new(names));
            }
        }
        if let Some(cert) = &self.cert {
            let cert = cert.get_or_init(|| {
                req.extensions()
                    .get::<Arc<TlsInfo>>()
                    .and_then(|info| info.peer_certificates.first())
                    .and_then(|der| describe(der))
            });
            if let Some(cert) = cert {
                req.extensions_mut().insert(cert.clone());
            }
        }
        self.inner.call(req)
    }
}

/// A request body that fails once it sends nothing for the body read timeout, so a stalled
/// client cannot hold a connection (and its partly read request) forever. Its size and end
/// are reported as the connection's (the S3 door tells an empty body from a missing length
/// by them; the HTTP door reserves a declared length up front).
pub struct StallBody {
    inner: Pin<Box<TimeoutBody<Incoming>>>,
    /// What is left of a declared length (hyper's own count, kept in step frame by frame).
    left: Option<u64>,
}

impl StallBody {
    fn new(body: Incoming, timeout: Duration) -> Self {
        StallBody {
            left: body.size_hint().exact(),
            inner: Box::pin(TimeoutBody::new(timeout, body)),
        }
    }
}

/// The error of a stalled body: [`BODY_STALLED`], over tower-http's [`TimeoutError`].
#[derive(Debug, thiserror::Error)]
#[error("{}", BODY_STALLED)]
struct Stalled(#[source] Box<dyn std::error::Error + Send + Sync>);

impl Body for StallBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let frame = match self.inner.as_mut().poll_frame(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(frame) => frame,
        };
        Poll::Ready(frame.map(|frame| match frame {
            Ok(frame) => {
                if let (Some(left), Some(data)) = (self.left.as_mut(), frame.data_ref()) {
                    *left = left.saturating_sub(data.len() as u64);
                }
                Ok(frame)
            }
            Err(e) if e.is::<TimeoutError>() => {
                Err(io::Error::new(io::ErrorKind::TimedOut, Stalled(e)))
            }
            Err(e) => Err(io::Error::other(e)),
        }))
    }

    fn is_end_stream(&self) -> bool {
        self.left == Some(0)
    }

    fn size_hint(&self) -> SizeHint {
        match self.left {
            Some(left) => SizeHint::with_exact(left),
            None => SizeHint::default(),
        }
    }
}
