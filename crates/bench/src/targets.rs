//! The two HTTP targets, both served by `axum::serve` on 127.0.0.1:0 with TCP_NODELAY:
//! the real snowstream receiver (router + landing spool + local sink) and a bare handler
//! that reads and drops bodies; and for the S3 scenarios, snowstream's S3 front door over
//! the same landing service and a bare S3 handler that answers PutObject and the three
//! multipart calls minimally.

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
use landing::sink::local::LocalSink;
use landing::{AckMode, Compression, Landing, LandingConfig, StreamConfig};
use md5::{Digest, Md5};
use server::s3::{BucketRoute, S3Config, S3Credential, S3Server};

use crate::s3load::{ACCESS_KEY, BUCKET, SECRET_KEY};

/// The path both targets answer on (snowstream's default base path).
pub const PATH: &str = "/contentListener";
/// The stream the receiver lands into (its default stream).
pub const STREAM: &str = "customers";

/// The running snowstream receiver.
pub struct Snowstream {
    pub addr: SocketAddr,
    pub landing: Arc<Landing>,
}

/// Landing settings the bench uses.
pub struct LandingSettings {
    pub ack: AckMode,
    pub compression: Compression,
    pub spool_max_bytes: u64,
}

/// Starts the receiver with its spool in `dir/spool` and landing files in `dir/landing`.
/// Must run inside the server's tokio runtime.
pub async fn start_snowstream(
    dir: &Path,
    settings: &LandingSettings,
    metrics: Option<Arc<dyn Fn() -> String + Send + Sync>>,
) -> Result<Snowstream> {
    let sink = LocalSink::new(dir.join("landing")).context("creating the landing folder")?;
    let stream = StreamConfig {
        compression: settings.compression,
        ack: settings.ack,
        ..StreamConfig::new(STREAM)
    };
    let config = LandingConfig {
        spool_dir: dir.join("spool"),
        instance: "bench".into(),
        spool_max_bytes: settings.spool_max_bytes,
        streams: vec![stream],
    };
    let landing = Arc::new(Landing::start(config, Arc::new(sink)).context("starting landing")?);
    let state = server::AppState::new(landing.clone(), server::ServerConfig::default(), metrics);
    let addr = serve(server::router(state)).await?;
    Ok(Snowstream { addr, landing })
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

/// Starts snowstream's S3 front door on 127.0.0.1:0 over `landing`: bucket [`BUCKET`] →
/// stream [`STREAM`], one static credential, multipart parts spooled under `dir/s3-uploads`.
pub async fn start_s3(dir: &Path, landing: Arc<Landing>) -> Result<S3Server> {
    let mut config = S3Config::new(dir.join("s3-uploads"));
    config.credentials = vec![S3Credential {
        access_key: ACCESS_KEY.into(),
        secret_key: SECRET_KEY.into(),
        buckets: Vec::new(),
    }];
    config.routes = vec![BucketRoute {
        bucket: BUCKET.into(),
        prefix: String::new(),
        stream: STREAM.into(),
    }];
    S3Server::start("127.0.0.1:0".parse()?, landing, config)
        .await
        .context("starting the S3 front door")
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
