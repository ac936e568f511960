//! Amazon S3 (or any S3-compatible store) sink, through aws-sdk-s3.
//!
//! Files below `multipart_threshold` go up in one PutObject; larger ones as a multipart upload
//! (create, upload parts a few at a time, complete; abort on failure). Bodies are streamed from
//! the file, never held whole in memory. Both ways are atomic in S3: the object appears under
//! its key only once complete. Both are conditional writes (`If-None-Match: *` on PutObject
//! and CompleteMultipartUpload, which Amazon S3 and MinIO honour): an object already under the
//! key is never replaced, S3 answers 412 Precondition Failed and the put reports
//! [`Put::Exists`]. The SDK's standard retry policy (with `max_attempts`) retries transient
//! failures, each attempt bounded by [`S3SinkConfig::attempt_timeout`] so a request that never
//! gets an answer cannot stall a stream; what is left is classified by
//! [`SinkError::is_retryable`].
//!
//! Staged bodies ([`Sink::stage`], `stage.rs`) go up in parts of `staged_part_size` as they
//! are written: one PutObject when the body fits in one part, else a multipart upload.

use std::path::Path;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{Credentials, Region};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::{ByteStream, Length};
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use futures::{StreamExt, TryStreamExt};

use super::{Put, Sink, SinkError, Staging, validate_key};

mod classify;
mod stage;

use classify::{check, is_retryable, precondition_failed};

const MIB: u64 = 1024 * 1024;
/// S3's smallest allowed part (except the last one).
const MIN_PART_SIZE: u64 = 5 * MIB;
/// S3's largest number of parts in one upload.
const MAX_PARTS: u64 = 10_000;
/// Parts uploaded at the same time within one multipart upload.
const PART_CONCURRENCY: usize = 4;
/// Longest wait for a connection to the S3 endpoint.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Region used when none is configured anywhere (S3-compatible stores usually ignore it).
const FALLBACK_REGION: &str = "us-east-1";

/// Settings of an [`S3Sink`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3SinkConfig {
    pub bucket: String,
    /// e.g. `http://127.0.0.1:9000` for MinIO; `None` for AWS.
    pub endpoint_url: Option<String>,
    /// `None`: from the AWS environment/profile, else `us-east-1`.
    pub region: Option<String>,
    /// Path-style requests (`endpoint/bucket/key`), needed by most S3-compatible stores.
    pub force_path_style: bool,
    /// Files ([`Sink::put_file`]) of at least this many bytes go up as multipart uploads
    /// (default 64 MiB). Staged bodies ([`Sink::stage`], the lander's batch files) do once they
    /// outgrow one part, so that a staging holds at most one part in memory.
    pub multipart_threshold: u64,
    /// Part size of multipart uploads of files (default 16 MiB; at least 5 MiB; raised if a
    /// file would need more than 10,000 parts).
    pub part_size: u64,
    /// Part size of staged bodies (default 8 MiB, at least 5 MiB): each staging holds one part
    /// in memory, and a lander has one per batch file in flight.
    pub staged_part_size: u64,
    /// Attempts per request, first one included (default 5).
    pub max_attempts: u32,
    /// Longest one attempt of one request may take, connect to last byte of the answer
    /// (default 5 minutes: a 64 MiB part at ~2 Mbit/s). Without it a request whose answer
    /// never comes would stall its stream's landing for good.
    pub attempt_timeout: Duration,
    /// Longest wait for the next bytes of an answer (default 60 s).
    pub read_timeout: Duration,
}

impl S3SinkConfig {
    /// Defaults for `bucket`.
    pub fn new(bucket: impl Into<String>) -> Self {
        Self {
            bucket: bucket.into(),
            endpoint_url: None,
            region: None,
            force_path_style: false,
            multipart_threshold: 64 * MIB,
            part_size: 16 * MIB,
            staged_part_size: 8 * MIB,
            max_attempts: 5,
            attempt_timeout: Duration::from_secs(300),
            read_timeout: Duration::from_secs(60),
        }
    }
}

impl Default for S3SinkConfig {
    fn default() -> Self {
        Self::new(String::new())
    }
}

/// Stores objects in one S3 bucket.
#[derive(Debug, Clone)]
pub struct S3Sink {
    client: Client,
    bucket: String,
    multipart_threshold: u64,
    part_size: u64,
    staged_part_size: u64,
}

impl S3Sink {
    /// Credentials and (unless configured) region from the usual AWS chain: environment,
    /// profile files, web identity, ECS/EC2 metadata.
    pub async fn new(cfg: S3SinkConfig) -> Result<Self, SinkError> {
        check(&cfg)?;
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(region) = &cfg.region {
            loader = loader.region(Region::new(region.clone()));
        }
        let shared = loader.load().await;
        let mut builder = aws_sdk_s3::config::Builder::from(&shared);
        if shared.region().is_none() {
            builder = builder.region(Region::new(FALLBACK_REGION));
        }
        Ok(Self::build(builder, cfg))
    }

    /// Explicit static credentials, nothing read from the environment (tests, simple setups).
    pub fn with_static_credentials(
        cfg: S3SinkConfig,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
    ) -> Result<Self, SinkError> {
        check(&cfg)?;
        let credentials = Credentials::new(
            access_key_id,
            secret_access_key,
            None,
            None,
            "snowstream-static",
        );
        let region = cfg
            .region
            .clone()
            .unwrap_or_else(|| FALLBACK_REGION.to_owned());
        let builder = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region))
            .credentials_provider(credentials);
        Ok(Self::build(builder, cfg))
    }

    fn build(mut builder: aws_sdk_s3::config::Builder, cfg: S3SinkConfig) -> Self {
        if let Some(url) = &cfg.endpoint_url {
            builder = builder.endpoint_url(url);
        }
        let builder = builder
            .force_path_style(cfg.force_path_style)
            .retry_config(RetryConfig::standard().with_max_attempts(cfg.max_attempts))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .read_timeout(cfg.read_timeout)
                    .operation_attempt_timeout(cfg.attempt_timeout)
                    .build(),
            );
        Self {
            client: Client::from_conf(builder.build()),
            bucket: cfg.bucket,
            multipart_threshold: cfg.multipart_threshold,
            part_size: cfg.part_size.max(MIN_PART_SIZE),
            staged_part_size: cfg.staged_part_size.max(MIN_PART_SIZE),
        }
    }

    /// The underlying client (e.g. to read objects back).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The bucket objects go to.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    fn s3_error<E>(
        &self,
        key: &str,
        operation: &'static str,
        err: SdkError<E, HttpResponse>,
    ) -> SinkError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        SinkError::S3 {
            backend: self.describe(),
            key: key.to_owned(),
            operation,
            retryable: is_retryable(&err),
            message: DisplayErrorContext(&err).to_string(),
        }
    }

    fn file_error(&self, key: &str, action: &'static str, source: std::io::Error) -> SinkError {
        SinkError::Io {
            backend: self.describe(),
            key: key.to_owned(),
            action,
            source,
        }
    }

    async fn file_body(
        &self,
        key: &str,
        path: &Path,
        offset: u64,
        len: u64,
    ) -> Result<ByteStream, SinkError> {
        ByteStream::read_from()
            .path(path)
            .offset(offset)
            .length(Length::Exact(len))
            .build()
            .await
            .map_err(|e| self.file_error(key, "read the source file", std::io::Error::other(e)))
    }

    async fn put_object(&self, key: &str, body: ByteStream, len: u64) -> Result<Put, SinkError> {
        let len = i64::try_from(len).expect("file sizes fit in i64");
        let put = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_length(len)
            .if_none_match("*")
            .body(body)
            .send()
            .await;
        match put {
            Ok(_) => Ok(Put::Created),
            Err(e) if precondition_failed(&e) => Ok(Put::Exists),
            Err(e) => {
                self.exists_after(key, self.s3_error(key, "PutObject", e))
                    .await
            }
        }
    }

    /// After a put that failed without an answer to read (a server may answer 412 before it
    /// reads the body, then close: the client sees a broken pipe): whether the key holds an
    /// object now. If it does, that is [`Put::Exists`]: the caller compares it with what it
    /// put, so an object this very put stored (its answer lost) is recognised as the same.
    async fn exists_after(&self, key: &str, err: SinkError) -> Result<Put, SinkError> {
        if !matches!(
            err,
            SinkError::S3 {
                retryable: true,
                ..
            }
        ) {
            return Err(err);
        }
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => Ok(Put::Exists),
            Err(_) => Err(err),
        }
    }

    async fn put_multipart(&self, key: &str, path: &Path, len: u64) -> Result<Put, SinkError> {
        let upload_id = self.create_upload(key).await?;
        let result = self.upload_and_complete(key, path, len, &upload_id).await;
        if !matches!(result, Ok(Put::Created)) {
            self.abort_upload(key, &upload_id).await;
        }
        result
    }

    /// Starts a multipart upload of `key`; its upload id.
    async fn create_upload(&self, key: &str) -> Result<String, SinkError> {
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .checksum_algorithm(ChecksumAlgorithm::Crc32C)
            .send()
            .await
            .map_err(|e| self.s3_error(key, "CreateMultipartUpload", e))?;
        let upload_id = created.upload_id().unwrap_or_default().to_owned();
        if upload_id.is_empty() {
            return Err(SinkError::S3 {
                backend: self.describe(),
                key: key.to_owned(),
                operation: "CreateMultipartUpload",
                message: "the response has no upload id".to_owned(),
                retryable: true,
            });
        }
        Ok(upload_id)
    }

    /// Best effort: otherwise the uploaded parts linger (and cost) until a lifecycle rule.
    async fn abort_upload(&self, key: &str, upload_id: &str) {
        let aborted = self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await;
        if let Err(e) = aborted {
            tracing::warn!(sink = %self.describe(), key, upload_id,
                error = %DisplayErrorContext(&e), "cannot abort a failed multipart upload");
        }
    }

    async fn upload_and_complete(
        &self,
        key: &str,
        path: &Path,
        len: u64,
        upload_id: &str,
    ) -> Result<Put, SinkError> {
        let part_size = self.part_size.max(len.div_ceil(MAX_PARTS));
        let count = len.div_ceil(part_size).max(1);
        let parts: Vec<CompletedPart> = futures::stream::iter(0..count)
            .map(|index| {
                let offset = index * part_size;
                let part_len = part_size.min(len - offset);
                self.upload_part(key, path, upload_id, index as i32 + 1, offset, part_len)
            })
            .buffered(PART_CONCURRENCY)
            .try_collect()
            .await?;
        self.complete(key, upload_id, parts).await
    }

    /// Completes the upload with `If-None-Match: *`: [`Put::Exists`] when the key is taken.
    async fn complete(
        &self,
        key: &str,
        upload_id: &str,
        parts: Vec<CompletedPart>,
    ) -> Result<Put, SinkError> {
        let completed = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .if_none_match("*")
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await;
        match completed {
            Ok(_) => Ok(Put::Created),
            Err(e) if precondition_failed(&e) => Ok(Put::Exists),
            Err(e) => {
                let err = self.s3_error(key, "CompleteMultipartUpload", e);
                self.exists_after(key, err).await
            }
        }
    }

    async fn upload_part(
        &self,
        key: &str,
        path: &Path,
        upload_id: &str,
        number: i32,
        offset: u64,
        len: u64,
    ) -> Result<CompletedPart, SinkError> {
        let body = self.file_body(key, path, offset, len).await?;
        self.send_part(key, upload_id, number, body, len).await
    }

    async fn send_part(
        &self,
        key: &str,
        upload_id: &str,
        number: i32,
        body: ByteStream,
        len: u64,
    ) -> Result<CompletedPart, SinkError> {
        let uploaded = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(number)
            .content_length(i64::try_from(len).expect("part sizes fit in i64"))
            .checksum_algorithm(ChecksumAlgorithm::Crc32C)
            .body(body)
            .send()
            .await
            .map_err(|e| self.s3_error(key, "UploadPart", e))?;
        Ok(CompletedPart::builder()
            .part_number(number)
            .set_e_tag(uploaded.e_tag().map(str::to_owned))
            .set_checksum_crc32_c(uploaded.checksum_crc32_c().map(str::to_owned))
            .build())
    }
}

#[async_trait::async_trait]
impl Sink for S3Sink {
    async fn put_file(&self, key: &str, path: &Path) -> Result<Put, SinkError> {
        validate_key(key)?;
        let len = tokio::fs::metadata(path)
            .await
            .map_err(|e| self.file_error(key, "stat the source file", e))?
            .len();
        if len >= self.multipart_threshold {
            self.put_multipart(key, path, len).await
        } else {
            let body = self.file_body(key, path, 0, len).await?;
            self.put_object(key, body, len).await
        }
    }

    async fn put_bytes(&self, key: &str, body: bytes::Bytes) -> Result<Put, SinkError> {
        validate_key(key)?;
        let len = body.len() as u64;
        self.put_object(key, ByteStream::from(body), len).await
    }

    async fn stage(&self, key: &str) -> Result<Box<dyn Staging>, SinkError> {
        validate_key(key)?;
        Ok(Box::new(stage::S3Staging::new(self.clone(), key)))
    }

    async fn read_each(
        &self,
        key: &str,
        each: &mut (dyn for<'c> FnMut(&'c [u8]) + Send),
    ) -> Result<bool, SinkError> {
        validate_key(key)?;
        self.read_object(key, each).await
    }

    async fn get(&self, key: &str) -> Result<Option<bytes::Bytes>, SinkError> {
        validate_key(key)?;
        let mut body = bytes::BytesMut::new();
        let found = self
            .read_object(key, &mut |chunk| body.extend_from_slice(chunk))
            .await?;
        Ok(found.then(|| body.freeze()))
    }

    fn describe(&self) -> String {
        format!("s3://{}", self.bucket)
    }
}
