//! Starting, feeding and aborting multipart uploads. Parts are kept on disk by
//! [`Uploads`](super::Uploads) until the upload is completed (see `complete`), aborted or
//! expires.

use std::sync::Arc;

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::super::digest;
use super::super::object::{self, ObjectInfo};
use super::super::uploads::UploadMeta;
use super::put::read_checked;
use super::{Front, blocking, metadata_pairs};

/// Highest part number S3 accepts.
const MAX_PART_NUMBER: i32 = 10_000;

impl Front {
    pub(super) async fn create_multipart_upload(
        self: Arc<Self>,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let i = req.input;
        let route = self.route(&i.bucket, &i.key)?;
        self.check_room(&route.stream)?;
        let open = {
            let me = self.clone();
            blocking(move || me.uploads.list()).await?.len()
        };
        if open >= self.config.max_open_uploads {
            return Err(object::slow_down(
                &format!(
                    "{open} multipart uploads are in progress, the most allowed \
                     (--s3-max-open-uploads); complete or abort some, or retry later"
                ),
                self.shared.retry_after_secs,
            ));
        }
        let upload_id = uuid::Uuid::new_v4().simple().to_string();
        let meta = UploadMeta {
            upload_id: upload_id.clone(),
            stream: route.stream,
            info: ObjectInfo {
                bucket: i.bucket.clone(),
                key: i.key.clone(),
                content_type: i.content_type,
                content_encoding: i.content_encoding,
                content_disposition: i.content_disposition,
                metadata: metadata_pairs(i.metadata),
            },
            access_key: req.credentials.map(|c| c.access_key).unwrap_or_default(),
            initiated_ms: chrono::Utc::now().timestamp_millis(),
        };
        blocking(move || self.uploads.create(&meta)).await?;
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(i.bucket),
            key: Some(i.key),
            upload_id: Some(upload_id),
            ..Default::default()
        }))
    }

    pub(super) async fn upload_part(
        self: Arc<Self>,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let i = req.input;
        let meta = self.upload(&i.upload_id, &i.bucket, &i.key)?;
        if !(1..=MAX_PART_NUMBER).contains(&i.part_number) {
            return Err(s3_error!(
                InvalidArgument,
                "part number must be 1 to {MAX_PART_NUMBER}, got {}",
                i.part_number
            ));
        }
        self.check_room(&meta.stream)?;
        let (body, md5) = read_checked(
            i.body,
            self.shared.max_request_bytes,
            &req.headers,
            i.content_md5,
            req.trailing_headers.as_ref(),
        )
        .await?;
        self.check_part_room(&meta.upload_id, i.part_number, body.len() as u64)
            .await?;
        let etag = digest::etag_hex(&md5);
        let (id, n, e) = (meta.upload_id, i.part_number, etag.clone());
        blocking(move || self.uploads.put_part(&id, n, &body, &e)).await?;
        Ok(S3Response::new(UploadPartOutput {
            e_tag: Some(ETag::Strong(etag)),
            ..Default::default()
        }))
    }

    /// Refuses a part of `size` bytes that would take its upload past the request limit
    /// (EntityTooLarge: Complete could never accept it), or the stored parts of every upload
    /// plus the spool past the spool limit (SlowDown: retry once uploads complete and land).
    async fn check_part_room(self: &Arc<Self>, id: &str, number: i32, size: u64) -> S3Result<()> {
        let (me, id_owned) = (self.clone(), id.to_owned());
        let (this, all) = blocking(move || {
            let this: u64 = me
                .uploads
                .parts(&id_owned)?
                .iter()
                .filter(|p| p.number != number)
                .map(|p| p.size)
                .sum();
            Ok((this, me.uploads.parts_bytes()?))
        })
        .await?;
        let max = self.shared.max_request_bytes;
        if this + size > max {
            return Err(s3_error!(
                EntityTooLarge,
                "the upload's parts would be over the {max}-byte limit (--max-request-size)"
            ));
        }
        let spooled = self.landing.spool_bytes();
        if all + size + spooled > self.config.max_parts_bytes && all > 0 {
            return Err(object::slow_down(
                &format!(
                    "multipart parts ({all} bytes) and the spool ({spooled} bytes) are at the \
                     spool limit of {} bytes; retry later",
                    self.config.max_parts_bytes
                ),
                self.shared.retry_after_secs,
            ));
        }
        Ok(())
    }

    pub(super) async fn abort_multipart_upload(
        self: Arc<Self>,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let i = req.input;
        let meta = self.upload(&i.upload_id, &i.bucket, &i.key)?;
        blocking(move || self.uploads.remove(&meta.upload_id)).await?;
        Ok(S3Response::new(AbortMultipartUploadOutput::default()))
    }
}
