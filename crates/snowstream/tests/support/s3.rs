//! Harness for the S3 front door's tests (`s3`): the shipped app (snowstream::App: spool in a
//! temp dir, local sink or a sink that is down) with its S3 front door on 127.0.0.1:0,
//! aws-sdk-s3 clients, and a reader for the landed files.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::config::{BehaviorVersion, Region};
use landing::sink::{LocalSink, Put, Sink, SinkError};
use landing::{Landing, LandingConfig, StreamConfig};
use server::ServerConfig;
use server::s3::{BucketRoute, S3Config, S3Credential};

pub const AK: &str = "AKIDSNOWSTREAMTEST";
pub const SK: &str = "s3cr3t/key+for+tests";
pub const OTHER_AK: &str = "AKIDORDERSONLY";
pub const OTHER_SK: &str = "orders-only-secret";

/// A sink that refuses every put, so the spool only fills.
pub struct DownSink;

#[async_trait::async_trait]
impl Sink for DownSink {
    async fn put_file(&self, key: &str, _path: &Path) -> Result<Put, SinkError> {
        Err(down(key))
    }
    async fn put_bytes(&self, key: &str, _body: bytes::Bytes) -> Result<Put, SinkError> {
        Err(down(key))
    }
    async fn get(&self, key: &str) -> Result<Option<bytes::Bytes>, SinkError> {
        Err(down(key))
    }
    fn describe(&self) -> String {
        "down".into()
    }
}

fn down(key: &str) -> SinkError {
    SinkError::Io {
        backend: "test".into(),
        key: key.into(),
        action: "put",
        source: std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "sink down"),
    }
}

pub struct Setup {
    pub spool_max_bytes: u64,
    pub sink_down: bool,
    pub s3: S3Config,
    /// What both front doors share (request limits, stream options).
    pub server: ServerConfig,
}

pub struct S3Test {
    /// The running app (taken by [`S3Test::restart`]).
    pub app: Option<snowstream::Running>,
    /// Where its S3 API listens.
    pub s3_addr: SocketAddr,
    pub landing: Arc<Landing>,
    pub config: S3Config,
    pub server: ServerConfig,
    pub landing_dir: PathBuf,
    pub dir: tempfile::TempDir,
}

/// Streams `customers` and `orders`; bucket `raw` → customers, `raw/orders/` → orders,
/// bucket `orders` → orders. Key AK may write every bucket, OTHER_AK only `orders`.
pub async fn start(f: impl FnOnce(&mut Setup)) -> S3Test {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s3 = S3Config::new(dir.path().join("s3-uploads"));
    s3.credentials = vec![
        S3Credential::parse(&format!("{AK}:{SK}")).unwrap(),
        S3Credential::parse(&format!("{OTHER_AK}:{OTHER_SK}:orders")).unwrap(),
    ];
    s3.routes = ["raw=customers", "raw/orders/=orders", "orders=orders"]
        .iter()
        .map(|r| BucketRoute::parse(r).unwrap())
        .collect();
    let mut setup = Setup {
        spool_max_bytes: 256 << 20,
        sink_down: false,
        s3,
        server: ServerConfig::default(),
    };
    f(&mut setup);
    let landing_dir = dir.path().join("landing");
    let sink: Arc<dyn Sink> = if setup.sink_down {
        Arc::new(DownSink)
    } else {
        Arc::new(LocalSink::new(&landing_dir).expect("local sink"))
    };
    let streams = vec![StreamConfig::new("customers"), StreamConfig::new("orders")];
    start_app(
        dir,
        setup.s3,
        setup.server,
        streams,
        setup.spool_max_bytes,
        sink,
    )
    .await
}

/// Starts the app with these streams over `sink`, its S3 API configured by `s3`, in `dir`.
pub async fn start_app(
    dir: tempfile::TempDir,
    s3: S3Config,
    server: ServerConfig,
    streams: Vec<StreamConfig>,
    spool_max_bytes: u64,
    sink: Arc<dyn Sink>,
) -> S3Test {
    let mut settings = snowstream::Settings::local(dir.path(), "s3t").expect("settings");
    settings.server = server.clone();
    settings.landing = LandingConfig {
        spool_max_bytes,
        streams,
        ..settings.landing
    };
    settings.s3_front = Some(snowstream::config::S3FrontSettings {
        listen: "127.0.0.1:0".parse().unwrap(),
        config: s3.clone(),
    });
    let app = snowstream::App::builder(settings)
        .sink(sink)
        .metrics(None)
        .start()
        .await
        .expect("snowstream starts");
    S3Test {
        s3_addr: app.s3_addr().expect("S3 front door on"),
        landing: app.landing().clone(),
        app: Some(app),
        config: s3,
        server,
        landing_dir: dir.path().join("landing"),
        dir,
    }
}

impl S3Test {
    pub fn addr(&self) -> SocketAddr {
        self.s3_addr
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// An aws-sdk-s3 client as NiFi/the CLI are set up: endpoint override, path style.
    pub fn client(&self) -> aws_sdk_s3::Client {
        self.client_as(AK, SK)
    }

    pub fn client_as(&self, ak: &str, sk: &str) -> aws_sdk_s3::Client {
        let creds = aws_credential_types::Credentials::new(ak, sk, None, None, "test");
        let conf = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(self.endpoint())
            .force_path_style(true)
            .credentials_provider(creds)
            .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
            .timeout_config(
                aws_sdk_s3::config::timeout::TimeoutConfig::builder()
                    .operation_timeout(Duration::from_secs(30))
                    .build(),
            )
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    /// Stops the S3 front door and the landing service, then starts both again on the same
    /// directories (the front door on a new port), like a process restart.
    pub async fn restart(mut self) -> S3Test {
        if let Some(app) = self.app.take() {
            app.stop().await.expect("app stops");
        }
        let S3Test {
            mut landing,
            config,
            server,
            dir,
            ..
        } = self;
        // Wait (bounded) until the stopped app has let go of the landing service, so its
        // spool lock is released when it drops.
        for _ in 0..100 {
            match Arc::try_unwrap(landing) {
                Ok(l) => {
                    drop(l);
                    break;
                }
                Err(l) => {
                    landing = l;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
        let sink = Arc::new(LocalSink::new(dir.path().join("landing")).expect("local sink"));
        let streams = vec![StreamConfig::new("customers"), StreamConfig::new("orders")];
        start_app(dir, config, server, streams, 256 << 20, sink).await
    }

    /// Lands everything acknowledged so far (bounded wait), then reads every landed line.
    pub async fn landed(&self) -> Vec<serde_json::Value> {
        tokio::time::timeout(Duration::from_secs(30), self.landing.flush())
            .await
            .expect("flush finished within 30 s");
        landed_files(&self.landing_dir)
            .iter()
            .flat_map(|p| read_landed(p))
            .collect()
    }

    pub fn files(&self) -> Vec<PathBuf> {
        landed_files(&self.landing_dir)
    }
}

pub use testkit::{landed_files, read_landed};

/// The `record` objects of landed lines whose attribute `s3.key` is `key`.
pub fn records_of<'a>(lines: &'a [serde_json::Value], key: &str) -> Vec<&'a serde_json::Value> {
    lines
        .iter()
        .filter(|l| l["meta"]["attributes"]["s3.key"] == key)
        .map(|l| &l["record"])
        .collect()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn md5_hex(data: &[u8]) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(data))
}

/// A PutObject of `body` to `bucket`/`key`, ready for more options and `.send()`.
pub fn put(
    c: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    body: impl Into<Vec<u8>>,
) -> aws_sdk_s3::operation::put_object::builders::PutObjectFluentBuilder {
    c.put_object()
        .bucket(bucket)
        .key(key)
        .body(aws_sdk_s3::primitives::ByteStream::from(body.into()))
}

/// Starts a multipart upload of `bucket`/`key`: its upload id.
pub async fn create_upload(c: &aws_sdk_s3::Client, bucket: &str, key: &str) -> String {
    send_create(c.create_multipart_upload().bucket(bucket).key(key)).await
}

/// Sends a CreateMultipartUpload built by the caller (metadata, headers): its upload id.
pub async fn send_create(
    create: aws_sdk_s3::operation::create_multipart_upload::builders::CreateMultipartUploadFluentBuilder,
) -> String {
    create
        .send()
        .await
        .expect("create upload")
        .upload_id()
        .expect("upload id")
        .to_owned()
}

/// Uploads `body` as part `n` of upload `id` of `bucket`/`key`: the part as a Complete lists
/// it (number and the ETag the front door answered).
pub async fn upload_part(
    c: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    id: &str,
    n: i32,
    body: impl Into<Vec<u8>>,
) -> aws_sdk_s3::types::CompletedPart {
    let out = c
        .upload_part()
        .bucket(bucket)
        .key(key)
        .upload_id(id)
        .part_number(n)
        .body(aws_sdk_s3::primitives::ByteStream::from(body.into()))
        .send()
        .await
        .expect("upload part");
    aws_sdk_s3::types::CompletedPart::builder()
        .part_number(n)
        .e_tag(out.e_tag().expect("part ETag"))
        .build()
}

/// Uploads `bodies` as parts 1, 2, … of upload `id`, in order: the parts for a Complete.
pub async fn upload_parts<B: Into<Vec<u8>>>(
    c: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    id: &str,
    bodies: impl IntoIterator<Item = B>,
) -> Vec<aws_sdk_s3::types::CompletedPart> {
    let mut parts = Vec::new();
    for (i, body) in bodies.into_iter().enumerate() {
        parts.push(upload_part(c, bucket, key, id, i as i32 + 1, body).await);
    }
    parts
}

/// A CompleteMultipartUpload of upload `id` of `bucket`/`key` from `parts`, ready for `.send()`.
pub fn complete_upload(
    c: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    id: &str,
    parts: Vec<aws_sdk_s3::types::CompletedPart>,
) -> aws_sdk_s3::operation::complete_multipart_upload::builders::CompleteMultipartUploadFluentBuilder
{
    c.complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(id)
        .multipart_upload(
            aws_sdk_s3::types::CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
}

/// The HTTP status of a failed call, if a response came back.
pub fn status<E>(
    e: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

/// The `Retry-After` header of a failed call's response.
pub fn retry_after<E>(
    e: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> Option<String> {
    e.raw_response()
        .and_then(|r| r.headers().get("retry-after"))
        .map(str::to_owned)
}
