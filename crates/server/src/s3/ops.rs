//! The S3 operations snowstream answers. Objects are ingested, never stored, so reads answer
//! honestly that there is nothing to read.
//!
//! The [`S3`] trait impl only dispatches; each operation group lives in its own module:
//! single objects in `put`, multipart uploads in `multipart` (completion in `complete`),
//! buckets and listings in `listing`.

mod complete;
mod listed;
mod listing;
mod multipart;
mod put;

use std::sync::Arc;

use s3s::dto::*;
use s3s::{S3, S3Request, S3Response, S3Result, s3_error};

use super::config::{BucketRoute, S3Config};
use super::error::{internal, slow_down};
use super::uploads::{UploadMeta, Uploads};

pub(crate) use complete::Completing;

/// Shared state of the S3 front door.
pub(crate) struct Front {
    pub landing: Arc<landing::Landing>,
    pub config: Arc<S3Config>,
    /// What both front doors share: request limits, Retry-After, each stream's options.
    pub shared: Arc<crate::ServerConfig>,
    pub uploads: Uploads,
    /// Reported as every bucket's creation date.
    pub started: std::time::SystemTime,
    /// Upload ids being completed right now: a concurrent Complete of the same upload waits,
    /// then answers from the completion marker instead of appending the records twice.
    pub completing: Completing,
    /// Parts being received, and the room every part is checked against.
    pub room: super::room::PartRoom,
}

/// The s3s handler: every operation delegates to [`Front`].
pub(crate) struct Handler(pub Arc<Front>);

/// Runs blocking file work off the async threads; a panic or an I/O error is an
/// InternalError.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> S3Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(internal)?
        .map_err(internal)
}

fn metadata_pairs(m: Option<Metadata>) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = m.unwrap_or_default().into_iter().collect();
    v.sort();
    v
}

fn owner() -> Owner {
    Owner {
        display_name: Some("snowstream".into()),
        id: Some("snowstream".into()),
    }
}

impl Front {
    fn route(&self, bucket: &str, key: &str) -> S3Result<BucketRoute> {
        check_key(key)?;
        self.config.route(bucket, key).cloned().ok_or_else(|| {
            let prefixes: Vec<_> = self
                .config
                .routes
                .iter()
                .filter(|r| r.bucket == bucket)
                .map(|r| r.prefix.as_str())
                .collect();
            s3_error!(
                AccessDenied,
                "key {key:?} is not under a prefix of bucket {bucket:?} mapped to a stream ({prefixes:?})"
            )
        })
    }

    /// Refuses with SlowDown when the spool is full, unless `stream` lands objects whole
    /// (pass-through objects never enter the spool).
    fn check_room(&self, stream: &str) -> S3Result<()> {
        if !self.shared.is_pass_through(stream) && self.landing.spool_full() {
            Err(slow_down(
                "spool is full; retry later",
                self.shared.retry_after_secs,
            ))
        } else {
            Ok(())
        }
    }

    fn upload(&self, id: &str, bucket: &str, key: &str) -> S3Result<UploadMeta> {
        match self.uploads.meta(id).map_err(internal)? {
            Some(m) if m.info.bucket == bucket && m.info.key == key => Ok(m),
            _ => Err(s3_error!(
                NoSuchUpload,
                "no multipart upload {id:?} for {bucket}/{key} (never created, completed, aborted or expired)"
            )),
        }
    }
}

#[async_trait::async_trait]
impl S3 for Handler {
    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        self.0.put_object(req).await
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        self.0.head_bucket(req)
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        self.0.get_bucket_location(req)
    }

    async fn list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        self.0.list_buckets(req)
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        Err(put::not_stored(&req.input.key))
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        Err(put::not_stored(&req.input.key))
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        Ok(listing::list_objects_v2(req))
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        self.0.clone().create_multipart_upload(req).await
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        self.0.clone().upload_part(req).await
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        self.0.clone().complete_multipart_upload(req).await
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        self.0.clone().abort_multipart_upload(req).await
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        self.0.list_multipart_uploads(req)
    }

    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        self.0.list_parts(req)
    }
}

/// Longest object key S3 accepts, in bytes of UTF-8 (the S3 user guide, "Naming Amazon S3
/// objects": "The name for a key is a sequence of Unicode characters whose UTF-8 encoding is
/// at most 1,024 bytes long").
pub(crate) const MAX_KEY_BYTES: usize = 1024;

/// Refuses keys S3 would refuse (over 1,024 bytes: `KeyTooLongError`), and keys with control
/// characters (a line break would split the line of the key in the Snowpipe notify queue):
/// 400 both, never a 500 from deeper down.
pub(crate) fn check_key(key: &str) -> S3Result<()> {
    if key.len() > MAX_KEY_BYTES {
        return Err(s3_error!(
            KeyTooLongError,
            "the key is {} bytes long, over the {MAX_KEY_BYTES}-byte limit",
            key.len()
        ));
    }
    if key.chars().any(char::is_control) {
        return Err(s3_error!(
            InvalidArgument,
            "the key {key:?} contains a control character (line break, tab…); such keys are refused"
        ));
    }
    Ok(())
}
