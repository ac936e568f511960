//! The targets, all on 127.0.0.1:0 with TCP_NODELAY: the shipped snowstream app (started by
//! [`snowstream::App`] exactly as `snowstream serve` starts it: receiver, S3 API front door,
//! spool, local sink, metrics) and, in the same process, a bare axum handler that reads and
//! drops bodies and a bare S3 handler that answers PutObject and the three multipart calls
//! minimally.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, RawQuery};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use axum::serve::ListenerExt;
use futures::StreamExt;
use landing::{AckMode, Compression, Landing};
use md5::{Digest, Md5};
use snowstream::config::args::{ListenerArgs, S3ApiArgs, SpoolArgs, StreamArgs};
use snowstream::config::value::{List, Size};
use snowstream::{App, Running, ServeArgs};

use crate::s3load::{ACCESS_KEY, BUCKET, SECRET_KEY};

/// The path both targets answer on (snowstream's default base path).
pub const PATH: &str = "/contentListener";
/// The stream the receiver lands into (its default stream).
pub const STREAM: &str = "customers";

/// The running snowstream app: HTTP receiver and S3 API front door over one landing service.
pub struct Snowstream {
    pub addr: SocketAddr,
    /// The S3 API front door: bucket [`BUCKET`] → stream [`STREAM`], one static credential.
    pub s3_addr: SocketAddr,
    pub landing: Arc<Landing>,
    running: Option<Running>,
}

impl Snowstream {
    /// Stops the app as `snowstream serve` does on SIGTERM (landing what is in the spool);
    /// a second call does nothing.
    pub async fn stop(&mut self) -> Result<()> {
        match self.running.take() {
            Some(r) => r.stop().await,
            None => Ok(()),
        }
    }
}

/// Landing settings the bench varies.
#[derive(Clone)]
pub struct LandingSettings {
    pub ack: AckMode,
    pub compression: Compression,
    pub spool_max_bytes: u64,
    /// The stream's landed-line form (`--envelope`).
    pub envelope: records::landed::Envelope,
    /// `--encode-concurrency` of every stream.
    pub encode_concurrency: u64,
}

/// Starts the shipped app ([`snowstream::App`], as `snowstream serve` does) on 127.0.0.1
/// with its data directory in `dir`: spool in `dir/spool`, landed files in `dir/landing`,
/// S3 API uploads in `dir/s3-uploads`. Must run inside the server's tokio runtime.
pub async fn start_snowstream(dir: &Path, settings: &LandingSettings) -> Result<Snowstream> {
    let args = ServeArgs {
        listener: ListenerArgs {
            listen: Some("127.0.0.1:0".parse()?),
            ..ListenerArgs::default()
        },
        spool: SpoolArgs {
            data_dir: Some(dir.to_path_buf()),
            instance_id: Some("bench".into()),
            default_stream: Some(STREAM.into()),
            spool_max_bytes: Some(Size(settings.spool_max_bytes)),
            ..SpoolArgs::default()
        },
        stream: StreamArgs {
            ack: Some(settings.ack),
            compression: Some(settings.compression),
            envelope: Some(settings.envelope),
            encode_concurrency: Some(settings.encode_concurrency),
            ..StreamArgs::default()
        },
        s3_api: S3ApiArgs {
            s3_listen: Some("127.0.0.1:0".parse()?),
            s3_credentials: Some(List(vec![format!("{ACCESS_KEY}:{SECRET_KEY}")])),
            s3_buckets: Some(List(vec![format!("{BUCKET}={STREAM}")])),
            ..S3ApiArgs::default()
        },
        ..ServeArgs::default()
    };
    let running = App::start(args.resolve()?)
        .await
        .context("starting snowstream")?;
    Ok(Snowstream {
        addr: running.addr(),
        s3_addr: running.s3_addr().context("the S3 API front door is on")?,
        landing: running.landing().clone(),
        running: Some(running),
    })
}

/// Starts the bare handler: 200 after reading the whole body, nothing else.
pub async fn start_bare() -> Result<SocketAddr> {
    serve(Router::new().route(PATH, post(drop_body))).await
}

async fn drop_body(body: Body) -> StatusCode {
    let mut chunks = body.into_data_stream();
    while let Some(chunk) = chunks.next().await {
        if chunk.is_err() {
            return StatusCode::BAD_REQUEST;
        }
    }
    StatusCode::OK
}

/// Starts the bare S3 handler: `PUT /{bucket}/{key}` (PutObject, UploadPart) reads the body
/// and answers 200 with its MD5 as ETag; `POST ?uploads` answers an UploadId, `POST
/// ?uploadId=` reads the part list and answers an ETag. No auth, no state.
pub async fn start_bare_s3() -> Result<SocketAddr> {
    serve(Router::new().route("/{bucket}/{*key}", put(bare_s3_put).post(bare_s3_post))).await
}

async fn read_all(body: Body) -> Option<Vec<u8>> {
    let mut chunks = body.into_data_stream();
    let mut all = Vec::new();
    while let Some(chunk) = chunks.next().await {
        all.extend_from_slice(&chunk.ok()?);
    }
    Some(all)
}

fn md5_hex(data: &[u8]) -> String {
    Md5::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn bare_s3_put(body: Body) -> Response {
    match read_all(body).await {
        Some(b) => (
            StatusCode::OK,
            [(header::ETAG, format!("\"{}\"", md5_hex(&b)))],
        )
            .into_response(),
        None => StatusCode::BAD_REQUEST.into_response(),
    }
}

async fn bare_s3_post(
    UrlPath((bucket, key)): UrlPath<(String, String)>,
    RawQuery(query): RawQuery,
    body: Body,
) -> Response {
    let query = query.unwrap_or_default();
    let Some(body) = read_all(body).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    const NS: &str = "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"";
    let xml = if query.split('&').any(|p| p == "uploads" || p == "uploads=") {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<InitiateMultipartUploadResult {NS}>\
             <Bucket>{bucket}</Bucket><Key>{key}</Key><UploadId>bare-upload</UploadId>\
             </InitiateMultipartUploadResult>"
        )
    } else if query.contains("uploadId=") {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUploadResult {NS}>\
             <Bucket>{bucket}</Bucket><Key>{key}</Key><ETag>&quot;{}-1&quot;</ETag>\
             </CompleteMultipartUploadResult>",
            md5_hex(&body)
        )
    } else {
        return StatusCode::NOT_IMPLEMENTED.into_response();
    };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/xml")],
        xml,
    )
        .into_response()
}

async fn serve(app: Router) -> Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding 127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move {
        if let Err(e) = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        {
            eprintln!("server on {addr} stopped: {e}");
        }
    });
    Ok(addr)
}
