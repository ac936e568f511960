//! The one listener stack of both front doors (the HTTP receiver and the S3 API): the accept
//! loop and everything a connection is held to, whatever the door serves on it.
//!
//! A connection is accepted with `TCP_NODELAY`, counted against the door's cap (refused ones
//! are counted in `snowstream_connections_refused_total{listener}`), TLS-handshaken when the
//! door serves HTTPS ([`TlsOptions`]), and served by hyper (HTTP/1 and, as ALPN or the
//! client's preface says, HTTP/2) through axum-server, which owns the accept loop and the
//! graceful shutdown. On the way each request gets what its connection knows (see
//! `request`): its header names as sent ([`crate::RawHeaderNames`], when the door keeps
//! header case), the verified client certificate ([`crate::ClientCert`]) and a body that
//! fails once the client stalls ([`StallBody`]).
//!
//! One timeout, the header read timeout, bounds every wait for the client before a request:
//! the TLS handshake (at most [`MAX_HANDSHAKE`]), the first request, each request head, and
//! a kept-alive connection idle between requests.

mod accept;
mod client_cert;
mod header_case;
mod request;
mod tls;

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use axum_server::service::MakeService;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use http::{Request, Response};
use hyper::body::{Body, Incoming};
use tower::Service;

use crate::listener::accept::Acceptor;

pub use request::{BODY_STALLED, StallBody};
pub use tls::{TlsError, TlsOptions};

/// How long open requests may take to finish once a stop is asked for.
pub const DRAIN: Duration = Duration::from_secs(10);

/// The longest a TLS handshake may take, however long the header read timeout is (axum-server's
/// own bound): a handshake never waits on a client that is slow to write, as a request does.
pub const MAX_HANDSHAKE: Duration = Duration::from_secs(10);

/// How a door's listener treats its connections, from the door's settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// Names the listener in the refused-connection metric (`http`, `s3`).
    pub name: &'static str,
    /// A connection whose TLS handshake, first request or next request head is not complete
    /// this long after it opened (or after its previous request) is closed.
    pub header_read_timeout: Duration,
    /// Most connections open at once; more are closed at once.
    pub max_connections: usize,
    /// A request body that sends nothing this long fails (see [`BODY_STALLED`]).
    pub body_read_timeout: Duration,
    /// Hand each HTTP/1 request its header names as the client spelled them.
    pub header_case: bool,
    /// Serve HTTPS.
    pub tls: Option<TlsOptions>,
}

/// Why a listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Tls(#[from] TlsError),
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Binds `addr` and serves `make_service` (one service per connection, made from the peer's
/// address) on its own task, as `options` say. Must be called inside a tokio runtime.
pub fn serve<M, S, B>(
    addr: SocketAddr,
    make_service: M,
    options: Options,
) -> Result<Serving, ListenError>
where
    M: MakeService<SocketAddr, Request<Incoming>, Service = S> + Send + 'static,
    M::MakeFuture: Send,
    S: Service<Request<StallBody>, Response = Response<B>> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send + 'static,
    B::Error: Into<BoxError>,
{
    let bind = |source| ListenError::Bind { addr, source };
    let tls = match &options.tls {
        Some(tls) => Some(RustlsConfig::from_config(tls.server_config()?.into())),
        None => None,
    };
    let listener = std::net::TcpListener::bind(addr).map_err(bind)?;
    let addr = listener.local_addr().map_err(bind)?;
    let handle = axum_server::Handle::new();
    let timeout = options.header_read_timeout;
    let mut server = axum_server::from_tcp(listener)
        .map_err(bind)?
        .first_request_timeout(timeout)
        .handle(handle.clone());
    server
        .http_builder()
        .http1()
        .header_read_timeout(Some(timeout));
    let acceptor = Acceptor::new(
        options.name,
        options.max_connections,
        options.header_case,
        options.body_read_timeout,
    );
    let task = match tls {
        None => {
            let server = server.acceptor(acceptor);
            tokio::spawn(async move { server.serve(make_service).await })
        }
        Some(config) => {
            let handshake = timeout.min(MAX_HANDSHAKE);
            let tls = RustlsAcceptor::new(config).handshake_timeout(handshake);
            let server = server.acceptor(acceptor.tls(tls));
            tokio::spawn(async move { server.serve(make_service).await })
        }
    };
    Ok(Serving {
        addr,
        handle,
        task: Some(task),
    })
}

/// A listener serving on its own task. Dropped without [`Serving::stop`], it stops at once:
/// no new connections, open ones closed.
pub struct Serving {
    addr: SocketAddr,
    handle: axum_server::Handle<SocketAddr>,
    task: Option<tokio::task::JoinHandle<io::Result<()>>>,
}

impl Serving {
    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets open requests finish (up to [`DRAIN`]) and waits until it has.
    pub async fn stop(&mut self) {
        self.handle.graceful_shutdown(Some(DRAIN));
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            self.handle.shutdown();
            task.abort();
        }
    }
}
