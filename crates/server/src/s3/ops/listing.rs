//! Bucket and listing operations: HeadBucket, GetBucketLocation and ListBuckets describe the
//! mapped buckets; ListObjectsV2 is always empty (nothing is stored); ListMultipartUploads
//! and ListParts page through the uploads in progress.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result};

use super::super::error::internal;
use super::super::uploads::UploadMeta;
use super::{Front, owner};

/// Page size S3 uses when the request gives none, and the most it returns.
const MAX_PAGE: i32 = 1000;

/// The `max-*` of a listing request, clamped to 1..=[`MAX_PAGE`].
fn page_size(requested: Option<i32>) -> usize {
    requested.unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE) as usize
}

fn initiator(access_key: &str) -> Initiator {
    Initiator {
        display_name: Some(access_key.to_owned()),
        id: Some(access_key.to_owned()),
    }
}

/// ListObjectsV2 echoes the request and lists nothing: objects are ingested, not stored.
pub(super) fn list_objects_v2(
    req: S3Request<ListObjectsV2Input>,
) -> S3Response<ListObjectsV2Output> {
    let i = req.input;
    S3Response::new(ListObjectsV2Output {
        name: Some(i.bucket),
        prefix: i.prefix,
        delimiter: i.delimiter,
        max_keys: Some(i.max_keys.unwrap_or(MAX_PAGE)),
        key_count: Some(0),
        is_truncated: Some(false),
        contents: Some(Vec::new()),
        continuation_token: i.continuation_token,
        encoding_type: i.encoding_type,
        start_after: i.start_after,
        ..Default::default()
    })
}

impl Front {
    pub(super) fn head_bucket(
        &self,
        _req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        // Existence and access were checked before the operation ran.
        Ok(S3Response::new(HeadBucketOutput {
            bucket_region: Some(self.config.region.clone()),
            ..Default::default()
        }))
    }

    pub(super) fn get_bucket_location(
        &self,
        _req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        let region = &self.config.region;
        let location_constraint =
            (region != "us-east-1").then(|| BucketLocationConstraint::from(region.clone()));
        Ok(S3Response::new(GetBucketLocationOutput {
            location_constraint,
        }))
    }

    pub(super) fn list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        let cfg = &self.config;
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
                creation_date: Some(self.started.into()),
            })
            .collect();
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(buckets),
            owner: Some(owner()),
            ..Default::default()
        }))
    }

    pub(super) fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let i = req.input;
        let prefix = i.prefix.clone().unwrap_or_default();
        let mut all: Vec<UploadMeta> = self
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
        let max = page_size(i.max_uploads);
        let rest: Vec<&UploadMeta> = all.iter().filter(|m| after(m)).collect();
        let truncated = rest.len() > max;
        let page = &rest[..rest.len().min(max)];
        let uploads = page
            .iter()
            .map(|m| MultipartUpload {
                key: Some(m.info.key.clone()),
                upload_id: Some(m.upload_id.clone()),
                initiated: Some(m.initiated().into()),
                initiator: Some(initiator(&m.access_key)),
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

    pub(super) fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        let i = req.input;
        let meta = self.upload(&i.upload_id, &i.bucket, &i.key)?;
        let marker = i.part_number_marker.unwrap_or(0);
        let max = page_size(i.max_parts);
        let stored: Vec<_> = self
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
            initiator: Some(initiator(&meta.access_key)),
            owner: Some(owner()),
            storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
            parts: Some(parts),
            ..Default::default()
        }))
    }
}
