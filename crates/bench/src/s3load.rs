//! The S3 load generator: N tasks sharing one aws-sdk-s3 client (path-style, static
//! credentials, retries off), each doing one operation at a time for a warm-up and then a
//! measured window. An operation is either one PutObject of a small NDJSON object or one
//! whole multipart upload (CreateMultipartUpload, UploadPart × parts, Complete).
//!
//! As in [`crate::load`], throughput counts operations that *completed* inside the window,
//! latency is per operation, and every acknowledged operation adds its records to
//! `acked_records` so the landed count can be checked afterwards.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_s3::config::{BehaviorVersion, Region};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

use crate::load::Outcome;
use crate::workload::Payload;

/// Credentials the bench configures on the front door and signs with.
pub const ACCESS_KEY: &str = "AKIDSNOWSTREAMBENCH";
pub const SECRET_KEY: &str = "bench/secret+key";
/// The bucket, routed to the `customers` stream.
pub const BUCKET: &str = "bench";

/// What each task does per operation.
#[derive(Clone)]
pub enum Work {
    /// PutObject of one of these bodies.
    Small(Arc<Vec<Payload>>),
    /// A multipart upload of one of these part lists (each part whole NDJSON lines).
    Multipart(Arc<Vec<Vec<Payload>>>),
}

#[derive(Clone)]
pub struct S3Plan {
    pub endpoint: String,
    pub work: Work,
    pub tasks: usize,
    pub warmup: Duration,
    pub duration: Duration,
    pub request_timeout: Duration,
    /// Operations all tasks may start together (each task stops when none is left); `None`:
    /// as many as fit in the time.
    pub budget: Option<Arc<AtomicU64>>,
}

/// An aws-sdk-s3 client set up as NiFi and the CLI are against an endpoint override.
pub fn client(endpoint: &str, timeout: Duration) -> aws_sdk_s3::Client {
    let creds = aws_credential_types::Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "bench");
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .credentials_provider(creds)
        .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
        .timeout_config(
            aws_sdk_s3::config::timeout::TimeoutConfig::builder()
                .operation_timeout(timeout)
                .build(),
        )
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// Runs the plan. Must run inside a tokio runtime.
pub async fn run(plan: &S3Plan) -> Outcome {
    let client = client(&plan.endpoint, plan.request_timeout);
    let measure_from = Instant::now() + plan.warmup;
    let stop_at = measure_from + plan.duration;
    let tasks: Vec<_> = (0..plan.tasks)
        .map(|i| {
            let (plan, client) = (plan.clone(), client.clone());
            tokio::spawn(async move { task(&plan, &client, i, measure_from, stop_at).await })
        })
        .collect();
    Outcome::join(tasks, plan.duration).await
}

/// Takes one operation from the shared budget; false when none is left.
fn take_one(budget: Option<&AtomicU64>) -> bool {
    budget.is_none_or(|b| {
        b.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
    })
}

/// How one failed operation is counted.
enum Failure {
    /// 503 SlowDown: backpressure.
    Unavailable,
    /// Another HTTP status: the server refused it, nothing of it is kept.
    Status(String),
    /// No answer or a broken connection: the outcome is unknown.
    Transport(String),
}

fn classify<E: ProvideErrorMetadata + std::fmt::Debug>(
    what: &str,
    e: SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> Failure {
    match e.raw_response().map(|r| r.status().as_u16()) {
        Some(503) => Failure::Unavailable,
        Some(status) => Failure::Status(format!(
            "{what}: HTTP {status} {}: {}",
            e.code().unwrap_or("?"),
            e.message().unwrap_or("")
        )),
        None => Failure::Transport(format!("{what}: {e:?}")),
    }
}

async fn task(
    plan: &S3Plan,
    client: &aws_sdk_s3::Client,
    index: usize,
    measure_from: Instant,
    stop_at: Instant,
) -> Outcome {
    let mut out = Outcome::empty();
    let mut next = index * 7919;
    let mut op = 0u64;
    while Instant::now() < stop_at && take_one(plan.budget.as_deref()) {
        op += 1;
        let key = format!("load/t{index}-{op}.ndjson");
        let start = Instant::now();
        let (records, bytes, result) = match &plan.work {
            Work::Small(bodies) => {
                let p = &bodies[next % bodies.len()];
                let r = client
                    .put_object()
                    .bucket(BUCKET)
                    .key(&key)
                    .content_type("application/x-ndjson")
                    .body(ByteStream::from(p.body.clone()))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| classify("PutObject", e));
                (p.records, p.body.len() as u64, r)
            }
            Work::Multipart(uploads) => {
                let parts = &uploads[next % uploads.len()];
                let records = parts.iter().map(|p| p.records).sum();
                let bytes = parts.iter().map(|p| p.body.len() as u64).sum();
                (
                    records,
                    bytes,
                    multipart(
                        client,
                        &key,
                        parts.iter().map(|p| p.body.clone()).collect::<Vec<_>>(),
                    )
                    .await,
                )
            }
        };
        next = next.wrapping_add(1);
        let end = Instant::now();
        match result {
            Ok(()) => {
                out.acked_records += records;
                out.acked_bytes += bytes;
                if end >= measure_from && end <= stop_at {
                    out.ok += 1;
                    out.ok_bytes += bytes;
                    let us = end.duration_since(start).as_micros().max(1) as u64;
                    out.latency_us.saturating_record(us);
                }
            }
            Err(Failure::Unavailable) => {
                out.unavailable += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(Failure::Status(e)) => {
                out.bad_status += 1;
                out.error(|| e);
            }
            Err(Failure::Transport(e)) => {
                out.transport_errors += 1;
                out.unknown_records += records;
                out.error(|| e);
            }
        }
    }
    out
}

/// [`multipart`] for a caller that only needs to know whether it worked.
pub(crate) async fn upload_object(
    client: &aws_sdk_s3::Client,
    key: &str,
    parts: impl IntoIterator<Item = bytes::Bytes>,
) -> anyhow::Result<()> {
    multipart(client, key, parts).await.map_err(|e| match e {
        Failure::Unavailable => anyhow::anyhow!("{key}: 503 SlowDown"),
        Failure::Status(e) | Failure::Transport(e) => anyhow::anyhow!("{key}: {e}"),
    })
}

/// Uploads `parts` (taken one at a time, so they may be made as they go) as the multipart
/// object `key` of [`BUCKET`].
async fn multipart(
    client: &aws_sdk_s3::Client,
    key: &str,
    parts: impl IntoIterator<Item = bytes::Bytes>,
) -> Result<(), Failure> {
    let created = client
        .create_multipart_upload()
        .bucket(BUCKET)
        .key(key)
        .content_type("application/x-ndjson")
        .send()
        .await
        .map_err(|e| classify("CreateMultipartUpload", e))?;
    let id = created
        .upload_id()
        .ok_or_else(|| Failure::Status("CreateMultipartUpload: no UploadId".into()))?
        .to_owned();
    let mut done = Vec::new();
    for (i, body) in parts.into_iter().enumerate() {
        let n = i as i32 + 1;
        let out = client
            .upload_part()
            .bucket(BUCKET)
            .key(key)
            .upload_id(&id)
            .part_number(n)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| classify("UploadPart", e))?;
        done.push(
            CompletedPart::builder()
                .part_number(n)
                .set_e_tag(out.e_tag().map(str::to_owned))
                .build(),
        );
    }
    client
        .complete_multipart_upload()
        .bucket(BUCKET)
        .key(key)
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(done))
                .build(),
        )
        .send()
        .await
        .map_err(|e| classify("CompleteMultipartUpload", e))?;
    Ok(())
}
