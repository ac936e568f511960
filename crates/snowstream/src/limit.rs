//! A cap on a listener's open connections. A connection over the cap is closed at once
//! (counted in `snowstream_connections_refused_total`), so a flood of idle or slow clients
//! cannot exhaust file descriptors or memory; the ones already open are served as usual.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum_server::accept::Accept;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Wraps an acceptor: takes a permit for each connection, or refuses it.
#[derive(Clone)]
pub struct Limited<A> {
    inner: A,
    permits: Arc<Semaphore>,
    listener: &'static str,
}

impl<A> Limited<A> {
    /// At most `max` connections at once through `inner`; `listener` labels the metric.
    pub fn new(inner: A, max: usize, listener: &'static str) -> Self {
        Limited {
            inner,
            permits: Arc::new(Semaphore::new(max.max(1))),
            listener,
        }
    }
}

type Accepted<T, S> = io::Result<(Permitted<T>, S)>;

impl<A, S> Accept<TcpStream, S> for Limited<A>
where
    A: Accept<TcpStream, S>,
    A::Future: Send + 'static,
    A::Stream: Send + 'static,
    A::Service: Send + 'static,
{
    type Stream = Permitted<A::Stream>;
    type Service = A::Service;
    type Future = Pin<Box<dyn Future<Output = Accepted<A::Stream, A::Service>> + Send>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let Ok(permit) = self.permits.clone().try_acquire_owned() else {
            drop(stream);
            metrics::counter!(landing::metric_names::CONNECTIONS_REFUSED_TOTAL, "listener" => self.listener)
                .increment(1);
            return Box::pin(std::future::ready(Err(io::Error::other(
                "connection limit reached",
            ))));
        };
        let accepted = self.inner.accept(stream, service);
        Box::pin(async move {
            let (inner, service) = accepted.await?;
            Ok((
                Permitted {
                    inner,
                    _permit: permit,
                },
                service,
            ))
        })
    }
}

/// A connection holding its permit until it closes.
pub struct Permitted<T> {
    inner: T,
    _permit: OwnedSemaphorePermit,
}

impl<T: AsyncRead + Unpin> AsyncRead for Permitted<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

crate::wrap::forward_async_write!(Permitted);
