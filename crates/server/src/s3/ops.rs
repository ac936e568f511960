//! The S3 operations snowstream answers. Objects are ingested, never stored, so reads answer
//! honestly that there is nothing to read.

use std::collections::HashMap;
use std::sync::Arc;

use md5::{Digest as _, Md5};
use s3s::dto::*;
use s3s::{S3, S3Error, S3Request, S3Response, S3Result, s3_error};

use super::config::{BucketRoute, S3Config};
use super::digest::{self, Declared};
use super::object::{self, ObjectInfo};
use super::uploads::{UploadMeta, Uploads};

const NOT_STORED: &str = "snowstream ingests objects into records; it does not store them, so there is nothing to read back";

pub(crate) struct Front {
    pub landing: Arc<landing::Landing>,
    pub config: Arc<S3Config>,
    pub uploads: Uploads,
    /// Reported as every bucket's creation date.
    pub started: std::time::SystemTime,
    /// Upload ids being completed right now: a concurrent Complete of the same upload waits,
    /// then answers from the completion marker instead of appending the records twice.
    pub completing: Completing,
}

#[derive(Default)]
pub(crate) struct Completing(std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

/// Holds one upload id's completion lock; forgets the id when nobody else waits for it.
struct Claim<'a> {
    map: &'a Completing,
    id: String,
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl Completing {
    fn claim(&self, id: &str) -> Claim<'_> {
        let lock = self
            .0
            .lock()
            .expect("lock")
            .entry(id.to_owned())
            .or_default()
            .clone();
        Claim {
            map: self,
            id: id.to_owned(),
            lock,
        }
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        let mut map = self.map.0.lock().expect("lock");
        // Only the map and this claim hold it: nobody else is waiting.
        if Arc::strong_count(&self.lock) == 2 {
            map.remove(&self.id);
        }
    }
}

pub(crate) struct Handler(pub Arc<Front>);

fn internal(e: impl std::fmt::Display) -> S3Error {
    s3_error!(InternalError, "{e}")
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

fn strip_etag(e: &ETag) -> String {
    e.value().trim_matches('"').to_ascii_lowercase()
}

impl Front {
    fn route(&self, bucket: &str, key: &str) -> S3Result<BucketRoute> {
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

    fn check_room(&self) -> S3Result<()> {
        if self.landing.spool_full() {
            Err(object::slow_down(
                "spool is full; retry later",
                self.config.retry_after_secs,
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

/// Reads a body and checks every declared digest (headers, then trailers once read).
async fn read_checked(
    body: Option<StreamingBlob>,
    max: u64,
    headers: &http::HeaderMap,
    content_md5: Option<String>,
    trailers: Option<&s3s::TrailingHeaders>,
) -> S3Result<(Vec<u8>, [u8; 16])> {
    let data = digest::read_body(body, max).await?;
    let mut declared = Declared {
        content_md5,
        ..Declared::default()
    };
    declared.add_headers(headers);
    if let Some(t) = trailers {
        t.read(|h| declared.add_headers(h));
    }
    let announced: Vec<String> = headers
        .get_all("x-amz-trailer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|v| {
            v.trim()
                .to_ascii_lowercase()
                .strip_prefix("x-amz-checksum-")
                .map(str::to_owned)
        })
        .collect();
    for a in announced {
        if !declared.checksums.iter().any(|(d, _)| *d == a) {
            return Err(s3_error!(
                BadDigest,
                "the request announced an x-amz-checksum-{a} trailer but did not send it"
            ));
        }
    }
    let md5 = digest::verify(&data, &declared)?;
    Ok((data, md5))
}

#[async_trait::async_trait]
impl S3 for Handler {
    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let f = &self.0;
        let input = req.input;
        let route = f.route(&input.bucket, &input.key)?;
        let pass_through = f.config.is_pass_through(&route.stream);
        if !pass_through {
            f.check_room()?;
        }
        let (body, md5) = read_checked(
            input.body,
            f.config.max_object_bytes,
            &req.headers,
            input.content_md5,
            req.trailing_headers.as_ref(),
        )
        .await?;
        let etag = digest::etag_hex(&md5);
        if pass_through {
            let landed =
                object::land_whole(&f.landing, &f.config, &route.stream, &input.key, body).await?;
            tracing::debug!(bucket = %input.bucket, key = %input.key, stream = %route.stream,
                %landed, "object landed whole (pass-through)");
            return Ok(S3Response::new(PutObjectOutput {
                e_tag: Some(ETag::Strong(etag)),
                ..Default::default()
            }));
        }
        let info = ObjectInfo {
            bucket: input.bucket,
            key: input.key,
            content_type: input.content_type,
            content_encoding: input.content_encoding,
            content_disposition: input.content_disposition,
            metadata: metadata_pairs(input.metadata),
        };
        let bytes = body.len() as u64;
        let batch = object::parse_object(&f.config, &route.stream, &info, body, &etag).await?;
        let receipt = object::append(&f.landing, &f.config, &route.stream, batch, bytes).await?;
        tracing::debug!(bucket = %info.bucket, key = %info.key, stream = %route.stream,
            records = receipt.records, "object ingested");
        Ok(S3Response::new(PutObjectOutput {
            e_tag: Some(ETag::Strong(etag)),
            ..Default::default()
        }))
    }

    async fn head_bucket(
        &self,
        _req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        // Existence and access were checked before the operation ran.
        Ok(S3Response::new(HeadBucketOutput {
            bucket_region: Some(self.0.config.region.clone()),
            ..Default::default()
        }))
    }

    async fn get_bucket_location(
        &self,
        _req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        let region = &self.0.config.region;
        let location_constraint =
            (region != "us-east-1").then(|| BucketLocationConstraint::from(region.clone()));
        Ok(S3Response::new(GetBucketLocationOutput {
            location_constraint,
        }))
    }

    async fn list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        let cfg = &self.0.config;
        let cred = req
            .credentials
            .as_ref()
            .and_then(|c| cfg.credential(&c.access_key));
        let mut names: Vec<&str> = cfg
            .routes
            .iter()
            .map(|r| r.bucket.as_str())
            .filter(|b| cred.is_some_and(|c| c.may_write(b)))
            .collect();
        names.sort();
        names.dedup();
        let buckets = names
            .into_iter()
            .map(|n| Bucket {
                name: Some(n.to_owned()),
                bucket_region: Some(cfg.region.clone()),
                creation_date: Some(self.0.started.into()),
            })
            .collect();
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(buckets),
            owner: Some(owner()),
            ..Default::default()
        }))
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        Err(s3_error!(NoSuchKey, "{:?}: {NOT_STORED}", req.input.key))
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        Err(s3_error!(NoSuchKey, "{:?}: {NOT_STORED}", req.input.key))
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let i = req.input;
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(i.bucket),
            prefix: i.prefix,
            delimiter: i.delimiter,
            max_keys: Some(i.max_keys.unwrap_or(1000)),
            key_count: Some(0),
            is_truncated: Some(false),
            contents: Some(Vec::new()),
            continuation_token: i.continuation_token,
            encoding_type: i.encoding_type,
            start_after: i.start_after,
            ..Default::default()
        }))
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let f = &self.0;
        let i = req.input;
        let route = f.route(&i.bucket, &i.key)?;
        if !f.config.is_pass_through(&route.stream) {
            f.check_room()?;
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
        let uploads = f.clone();
        tokio::task::spawn_blocking(move || uploads.uploads.create(&meta))
            .await
            .map_err(internal)?
            .map_err(internal)?;
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(i.bucket),
            key: Some(i.key),
            upload_id: Some(upload_id),
            ..Default::default()
        }))
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let f = self.0.clone();
        let i = req.input;
        let meta = f.upload(&i.upload_id, &i.bucket, &i.key)?;
        if !(1..=10_000).contains(&i.part_number) {
            return Err(s3_error!(
                InvalidArgument,
                "part number must be 1 to 10000, got {}",
                i.part_number
            ));
        }
        if !f.config.is_pass_through(&meta.stream) {
            f.check_room()?;
        }
        let (body, md5) = read_checked(
            i.body,
            f.config.max_object_bytes,
            &req.headers,
            i.content_md5,
            req.trailing_headers.as_ref(),
        )
        .await?;
        let etag = digest::etag_hex(&md5);
        let (id, n, e) = (meta.upload_id, i.part_number, etag.clone());
        tokio::task::spawn_blocking(move || f.uploads.put_part(&id, n, &body, &e))
            .await
            .map_err(internal)?
            .map_err(internal)?;
        Ok(S3Response::new(UploadPartOutput {
            e_tag: Some(ETag::Strong(etag)),
            ..Default::default()
        }))
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let f = self.0.clone();
        let i = req.input;
        let claim = f.completing.claim(&i.upload_id);
        let _one_at_a_time = claim.lock.lock().await;
        if let Some(done) = f.uploads.completed(&i.upload_id)
            && done.bucket == i.bucket
            && done.key == i.key
        {
            // A retried Complete (the first answer was lost): same answer, nothing appended again.
            return Ok(S3Response::new(CompleteMultipartUploadOutput {
                location: Some(format!("/{}/{}", i.bucket, i.key)),
                bucket: Some(i.bucket),
                key: Some(i.key),
                e_tag: Some(ETag::Strong(done.etag)),
                ..Default::default()
            }));
        }
        let meta = f.upload(&i.upload_id, &i.bucket, &i.key)?;
        let requested = i.multipart_upload.and_then(|m| m.parts).unwrap_or_default();
        if requested.is_empty() {
            return Err(s3_error!(
                MalformedXML,
                "CompleteMultipartUpload lists no parts"
            ));
        }
        let stored = f.uploads.parts(&meta.upload_id).map_err(internal)?;
        let mut chosen = Vec::with_capacity(requested.len());
        let mut last = 0;
        for p in &requested {
            let n = p.part_number.unwrap_or(0);
            if n <= last {
                return Err(s3_error!(
                    InvalidPartOrder,
                    "parts must be listed in ascending part-number order (part {n} after {last})"
                ));
            }
            last = n;
            let Some(s) = stored.iter().find(|s| s.number == n) else {
                return Err(s3_error!(InvalidPart, "part {n} was never uploaded"));
            };
            if let Some(e) = &p.e_tag
                && strip_etag(e) != s.md5_hex
            {
                return Err(s3_error!(
                    InvalidPart,
                    "part {n}: ETag {} does not match the stored part's {}",
                    e.value(),
                    s.md5_hex
                ));
            }
            chosen.push(s.clone());
        }
        let total: u64 = chosen.iter().map(|p| p.size).sum();
        if total > f.config.max_object_bytes {
            return Err(s3_error!(
                EntityTooLarge,
                "assembled object is over the {}-byte limit",
                f.config.max_object_bytes
            ));
        }
        let pass_through = f.config.is_pass_through(&meta.stream);
        if !pass_through {
            f.check_room()?;
        }
        let parts = chosen.clone();
        let (body, etag) = tokio::task::spawn_blocking(move || -> std::io::Result<_> {
            let mut body = Vec::with_capacity(total as usize);
            let mut md5s = Md5::new();
            for p in &parts {
                body.extend_from_slice(&std::fs::read(&p.path)?);
                md5s.update(hex::decode(&p.md5_hex).unwrap_or_default());
            }
            Ok((
                body,
                format!("{}-{}", hex::encode(md5s.finalize()), parts.len()),
            ))
        })
        .await
        .map_err(internal)?
        .map_err(internal)?;
        if pass_through {
            object::land_whole(&f.landing, &f.config, &meta.stream, &meta.info.key, body).await?;
        } else {
            let batch =
                object::parse_object(&f.config, &meta.stream, &meta.info, body, &etag).await?;
            object::append(&f.landing, &f.config, &meta.stream, batch, total).await?;
        }
        let (front, done, e) = (f.clone(), meta.clone(), etag.clone());
        if let Err(e) = tokio::task::spawn_blocking(move || front.uploads.finish(&done, &e))
            .await
            .map_err(internal)?
        {
            tracing::warn!(upload_id = %meta.upload_id, error = %e,
                "the object is durable but the upload's parts could not be removed");
        }
        Ok(S3Response::new(CompleteMultipartUploadOutput {
            bucket: Some(i.bucket.clone()),
            key: Some(i.key.clone()),
            e_tag: Some(ETag::Strong(etag)),
            location: Some(format!("/{}/{}", i.bucket, i.key)),
            ..Default::default()
        }))
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let f = self.0.clone();
        let i = req.input;
        let meta = f.upload(&i.upload_id, &i.bucket, &i.key)?;
        tokio::task::spawn_blocking(move || f.uploads.remove(&meta.upload_id))
            .await
            .map_err(internal)?
            .map_err(internal)?;
        Ok(S3Response::new(AbortMultipartUploadOutput::default()))
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let i = req.input;
        let prefix = i.prefix.clone().unwrap_or_default();
        let mut all: Vec<UploadMeta> = self
            .0
            .uploads
            .list()
            .map_err(internal)?
            .into_iter()
            .filter(|m| m.info.bucket == i.bucket && m.info.key.starts_with(&prefix))
            .collect();
        all.sort_by(|a, b| {
            (&a.info.key, a.initiated_ms, &a.upload_id).cmp(&(
                &b.info.key,
                b.initiated_ms,
                &b.upload_id,
            ))
        });
        let key_marker = i.key_marker.clone().unwrap_or_default();
        let id_marker = i.upload_id_marker.clone();
        let after = |m: &UploadMeta| match &id_marker {
            _ if key_marker.is_empty() => true,
            Some(id) if !id.is_empty() => {
                m.info.key > key_marker
                    || (m.info.key == key_marker && m.upload_id.as_str() > id.as_str())
            }
            _ => m.info.key > key_marker,
        };
        let max = i.max_uploads.unwrap_or(1000).clamp(1, 1000) as usize;
        let rest: Vec<&UploadMeta> = all.iter().filter(|m| after(m)).collect();
        let truncated = rest.len() > max;
        let page = &rest[..rest.len().min(max)];
        let uploads = page
            .iter()
            .map(|m| MultipartUpload {
                key: Some(m.info.key.clone()),
                upload_id: Some(m.upload_id.clone()),
                initiated: Some(m.initiated().into()),
                initiator: Some(Initiator {
                    display_name: Some(m.access_key.clone()),
                    id: Some(m.access_key.clone()),
                }),
                owner: Some(owner()),
                storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
                ..Default::default()
            })
            .collect();
        Ok(S3Response::new(ListMultipartUploadsOutput {
            bucket: Some(i.bucket),
            prefix: i.prefix,
            key_marker: i.key_marker,
            upload_id_marker: i.upload_id_marker,
            max_uploads: Some(max as i32),
            is_truncated: Some(truncated),
            next_key_marker: truncated
                .then(|| page.last().map(|m| m.info.key.clone()))
                .flatten(),
            next_upload_id_marker: truncated
                .then(|| page.last().map(|m| m.upload_id.clone()))
                .flatten(),
            uploads: Some(uploads),
            ..Default::default()
        }))
    }

    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        let i = req.input;
        let meta = self.0.upload(&i.upload_id, &i.bucket, &i.key)?;
        let marker = i.part_number_marker.unwrap_or(0);
        let max = i.max_parts.unwrap_or(1000).clamp(1, 1000) as usize;
        let stored: Vec<_> = self
            .0
            .uploads
            .parts(&meta.upload_id)
            .map_err(internal)?
            .into_iter()
            .filter(|p| p.number > marker)
            .collect();
        let truncated = stored.len() > max;
        let page = &stored[..stored.len().min(max)];
        let parts = page
            .iter()
            .map(|p| Part {
                part_number: Some(p.number),
                e_tag: Some(ETag::Strong(p.md5_hex.clone())),
                size: Some(p.size as i64),
                last_modified: Some(p.modified.into()),
                ..Default::default()
            })
            .collect();
        Ok(S3Response::new(ListPartsOutput {
            bucket: Some(i.bucket),
            key: Some(i.key),
            upload_id: Some(meta.upload_id.clone()),
            max_parts: Some(max as i32),
            is_truncated: Some(truncated),
            part_number_marker: i.part_number_marker,
            next_part_number_marker: truncated.then(|| page.last().map(|p| p.number)).flatten(),
            initiator: Some(Initiator {
                display_name: Some(meta.access_key.clone()),
                id: Some(meta.access_key),
            }),
            owner: Some(owner()),
            storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
            parts: Some(parts),
            ..Default::default()
        }))
    }
}
