//! The one acceptor of both front doors, in front of the TLS handshake (when there is one):
//! `TCP_NODELAY`, the cap on open connections (one over it is closed at once and counted in
//! `snowstream_connections_refused_total{listener}`, so a flood of idle or slow clients cannot
//! exhaust file descriptors or memory), and the connection's wrappers: its stream holds the
//! permit and feeds the header-case scanner, its service hands each request what the
//! connection knows.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum_server::accept::{Accept, DefaultAcceptor};
use axum_server::tls_rustls::RustlsAcceptor;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::listener::header_case::Shared;
use crate::listener::request::ConnService;

/// Takes a permit for each connection (or refuses it), then hands it to `inner` (the TLS
/// handshake, or nothing) with the connection's service.
#[derive(Clone)]
pub(crate) struct Acceptor<A> {
    inner: A,
    permits: Arc<Semaphore>,
    /// Labels the refused-connection metric.
    name: &'static str,
    header_case: bool,
    body_read_timeout: Duration,
    tls: bool,
}

impl Acceptor<DefaultAcceptor> {
    /// At most `max_connections` at once, served as they are (no TLS).
    pub(crate) fn new(
        name: &'static str,
        max_connections: usize,
        header_case: bool,
        body_read_timeout: Duration,
    ) -> Self {
        Acceptor {
            inner: DefaultAcceptor,
            permits: Arc::new(Semaphore::new(max_connections.max(1))),
            name,
            header_case,
            body_read_timeout,
            tls: false,
        }
    }

    /// The same, each connection handshaken by `tls` (its requests get the client
    /// certificate).
    pub(crate) fn tls(self, tls: RustlsAcceptor) -> Acceptor<RustlsAcceptor> {
        Acceptor {
            inner: tls,
            permits: self.permits,
            name: self.name,
            header_case: self.header_case,
            body_read_timeout: self.body_read_timeout,
            tls: true,
        }
    }
}

type Accepted<T, S> = io::Result<(Conn<T>, S)>;

impl<A, S> Accept<TcpStream, S> for Acceptor<A>
where
    A: Accept<TcpStream, ConnService<S>>,
    A::Future: Send + 'static,
    A::Stream: Send + 'static,
    A::Service: Send + 'static,
{
    type Stream = Conn<A::Stream>;
    type Service = A::Service;
    type Future = Pin<Box<dyn Future<Output = Accepted<A::Stream, A::Service>> + Send>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let Ok(permit) = self.permits.clone().try_acquire_owned() else {
            drop(stream);
            metrics::counter!(landing::metric_names::CONNECTIONS_REFUSED_TOTAL, "listener" => self.name)
                .increment(1);
            return Box::pin(std::future::ready(Err(io::Error::other(
                "connection limit reached",
            ))));
        };
        if let Err(e) = stream.set_nodelay(true) {
            return Box::pin(std::future::ready(Err(e)));
        }
        let scanner = self.header_case.then(Shared::default);
        let service = ConnService::new(service, scanner.clone(), self.body_read_timeout, self.tls);
        let accepted = self.inner.accept(stream, service);
        Box::pin(async move {
            let (inner, service) = accepted.await?;
            Ok((
                Conn {
                    inner,
                    scanner,
                    _permit: permit,
                },
                service,
            ))
        })
    }
}

/// A connection: holds its permit until it closes; what is read off it (decrypted) goes
/// through the header-case scanner, when it has one.
pub(crate) struct Conn<T> {
    inner: T,
    scanner: Option<Shared>,
    _permit: OwnedSemaphorePermit,
}

impl<T: AsyncRead + Unpin> AsyncRead for Conn<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let (Poll::Ready(Ok(())), Some(scanner)) = (&r, &self.scanner) {
            let new = &buf.filled()[before..];
            if !new.is_empty() {
                scanner.lock().expect("lock").feed(new);
            }
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Conn<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
