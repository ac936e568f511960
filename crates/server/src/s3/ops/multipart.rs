//! Starting, feeding and aborting multipart uploads. Parts are kept on disk by
//! [`Uploads`](super::Uploads) until the upload is completed (see `complete`), aborted or
//! expires.

use std::sync::Arc;

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::super::digest;
use super::super::error::{internal, slow_down};
use super::super::object::ObjectInfo;
use super::super::room::{Limits, NoRoom, Reserved};
use super::super::uploads::{NewPart, UploadMeta};
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
            return Err(slow_down(
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
        let limit = self.object_limit(&meta);
        let max = limit.bytes;
        // A declared length is reserved before anything is written; what arrives, checked after.
        let mut reserved = None;
        if let Some(len) = declared_length(&req.headers) {
            if len > max {
                return Err(limit.too_large());
            }
            reserved = Some(self.reserve_part(&meta, limit, i.part_number, len).await?);
        }
        let (id, n) = (meta.upload_id.clone(), i.part_number);
        let part = {
            let me = self.clone();
            blocking(move || me.uploads.new_part(&id, n)).await?
        };
        let (part, computed, size) = stream_to_part(
            i.body,
            part,
            max,
            digest::announced_algorithms(&req.headers),
        )
        .await?;
        let part = check_part_digests(
            part,
            size,
            &computed,
            &req.headers,
            i.content_md5,
            req.trailing_headers.as_ref(),
        )
        .await?;
        drop(reserved);
        let _reserved = self.reserve_part(&meta, limit, i.part_number, size).await?;
        let etag = digest::etag_hex(&computed.md5);
        let (id, e) = (meta.upload_id, etag.clone());
        blocking(move || self.uploads.commit_part(&id, part, &e)).await?;
        Ok(S3Response::new(UploadPartOutput {
            e_tag: Some(ETag::Strong(etag)),
            ..Default::default()
        }))
    }

    /// The most bytes an upload's object may have ([`ObjectLimit`]).
    pub(super) fn object_limit(&self, meta: &UploadMeta) -> ObjectLimit {
        let format = meta.info.format(&self.shared, &meta.stream);
        let streams = !self.shared.is_pass_through(&meta.stream) && crate::cut::splits(format);
        ObjectLimit {
            bytes: if streams {
                self.key_share()
            } else {
                self.shared.max_request_bytes
            },
            streams,
        }
    }

    /// Each access key's share of the spool limit for its uploads' parts (see `room`).
    fn key_share(&self) -> u64 {
        let keys = self.config.credentials.len().max(1) as u64;
        self.config.max_parts_bytes / keys
    }

    /// Reserves room for a part of `size` bytes (see `room`): EntityTooLarge when its upload
    /// could never complete, SlowDown when the key's share or the spool limit is taken for now.
    async fn reserve_part(
        self: &Arc<Self>,
        meta: &UploadMeta,
        limit: ObjectLimit,
        number: i32,
        size: u64,
    ) -> S3Result<Reserved> {
        let limits = Limits {
            object: limit.bytes,
            share: self.key_share(),
            total: self.config.max_parts_bytes,
            spooled: self.landing.spool_bytes(),
        };
        let (me, m) = (self.clone(), meta.clone());
        let room = blocking(move || me.room.reserve(&me.uploads, &m, number, size, &limits));
        let retry = self.shared.retry_after_secs;
        match room.await? {
            Ok(r) => Ok(r),
            Err(NoRoom::Never) => Err(limit.too_large()),
            Err(NoRoom::Share { held, share }) => Err(slow_down(
                &format!(
                    "the uploads in progress of access key {} hold {held} bytes of its \
                     {share}-byte share of the spool limit (--spool-max-bytes divided among \
                     the --s3-credentials keys); complete or abort some, or retry later",
                    meta.access_key
                ),
                retry,
            )),
            Err(NoRoom::Full { held, limit }) => Err(slow_down(
                &format!(
                    "multipart parts and the spool hold {held} bytes, at the spool limit of \
                     {limit} bytes; retry later"
                ),
                retry,
            )),
        }
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

/// The most bytes an upload's object may have. An NDJSON or CSV object of a stream that parses
/// records streams through Complete in chunks, so only the spool bounds it (`--spool-max-bytes`,
/// which its parts count against until it is complete); a JSON document or a pass-through
/// object is held whole, within `--max-request-size`.
#[derive(Debug, Clone, Copy)]
pub(super) struct ObjectLimit {
    pub bytes: u64,
    /// Whether the object streams through Complete (the spool is its limit).
    pub streams: bool,
}

impl ObjectLimit {
    /// EntityTooLarge, naming the limit and the setting behind it.
    pub(super) fn too_large(&self) -> s3s::S3Error {
        let max = self.bytes;
        if self.streams {
            s3_error!(
                EntityTooLarge,
                "the object would be over {max} bytes, more than the spool can ever hold for one \
                 access key (--spool-max-bytes, divided among the --s3-credentials keys); \
                 nothing of it was kept. Raise the limit or send smaller objects"
            )
        } else {
            s3_error!(
                EntityTooLarge,
                "the object would be over the {max}-byte limit of an object that is parsed \
                 whole (a JSON document or a pass-through object: --max-request-size); send \
                 NDJSON or CSV, which stream, or smaller objects"
            )
        }
    }
}

/// Chunks of a part body queued for its file writer.
const PART_QUEUE: usize = 8;

/// The body's length as the request declares it: the decoded length of an aws-chunked body,
/// else Content-Length.
fn declared_length(headers: &http::HeaderMap) -> Option<u64> {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    get("x-amz-decoded-content-length").or_else(|| get("content-length"))
}

/// Streams `body` into `part` chunk by chunk (written and hashed on a blocking thread, a few
/// chunks queued at most), refusing more than `max` bytes. Returns the part, its digests
/// (MD5 and `algos`) and its size.
async fn stream_to_part(
    body: Option<StreamingBlob>,
    mut part: NewPart,
    max: u64,
    algos: Vec<String>,
) -> S3Result<(NewPart, digest::Computed, u64)> {
    use futures::StreamExt as _;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(PART_QUEUE);
    let writer = tokio::task::spawn_blocking(move || {
        let mut hashers = digest::Hashers::new(&algos);
        while let Some(chunk) = rx.blocking_recv() {
            hashers.update(&chunk);
            part.write(&chunk)?;
        }
        Ok::<_, std::io::Error>((part, hashers.finish()))
    });
    let mut size = 0u64;
    if let Some(mut body) = body {
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| digest::body_error(&e))?;
            size += chunk.len() as u64;
            if size > max {
                return Err(digest::too_large(max));
            }
            if tx.send(chunk).await.is_err() {
                break; // The writer failed: its error is the answer.
            }
        }
    }
    drop(tx);
    let (part, computed) = writer.await.map_err(internal)?.map_err(internal)?;
    Ok((part, computed, size))
}

/// The checks `put::read_checked` makes on a whole body, made on a streamed part of `size`
/// bytes: the aws-chunked decoded length, every announced trailer sent, every declared digest
/// (one not hashed while streaming is hashed from the part's file).
async fn check_part_digests(
    mut part: NewPart,
    size: u64,
    computed: &digest::Computed,
    headers: &http::HeaderMap,
    content_md5: Option<String>,
    trailers: Option<&s3s::TrailingHeaders>,
) -> S3Result<NewPart> {
    let declared = digest::check_declared(headers, content_md5, trailers, size)?;
    let missing = declared
        .checksums
        .iter()
        .any(|(a, _)| !computed.checksums.iter().any(|(c, _)| c == a));
    if !missing {
        computed.verify(&declared, &mut |_| Ok(None))?;
        return Ok(part);
    }
    // A trailer nobody announced: hash the part's file again for it (rare).
    let file = blocking(move || part.read_back().map(|f| (part, f))).await;
    let (part, file) = file?;
    let file = std::sync::Mutex::new(file);
    computed.verify(&declared, &mut |algo| {
        use std::io::Seek as _;
        let mut f = file.lock().expect("lock");
        f.rewind()?;
        digest::hash_reader(algo, &mut *f)
    })?;
    Ok(part)
}
