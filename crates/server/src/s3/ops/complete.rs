//! CompleteMultipartUpload: checks the listed parts against the stored ones, assembles the
//! object, ingests it exactly once and leaves a completion marker so a retried Complete gets
//! the same answer without appending the records again.
//!
//! Exactly once across a crash: the records are appended with the upload id as idempotency
//! key ([`landing::Landing::append_once`]), whose ledger survives restarts and outlives the
//! batch's landing. The upload's folder (its parts) is removed only after the completion
//! marker is durable, so a crash anywhere between the append and the marker leaves the upload
//! in place: the client's retried Complete assembles it again, the spool answers "already
//! taken" without appending, and the marker is written then. A crash after the marker: the
//! retry is answered from the marker. An append refused (disk full or failing: 503 SlowDown)
//! keeps nothing, key included, so the retry appends it once.

use std::collections::HashMap;
use std::sync::Arc;

use md5::{Digest as _, Md5};
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::super::object;
use super::super::uploads::{StoredPart, UploadMeta};
use super::{Front, blocking, internal};

/// Upload ids being completed right now, each with the lock its completions queue on.
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

fn strip_etag(e: &ETag) -> String {
    e.value().trim_matches('"').to_ascii_lowercase()
}

/// The answer to a completed upload of `bucket`/`key` with the object's `etag`.
fn completed(bucket: String, key: String, etag: String) -> CompleteMultipartUploadOutput {
    CompleteMultipartUploadOutput {
        location: Some(format!("/{bucket}/{key}")),
        bucket: Some(bucket),
        key: Some(key),
        e_tag: Some(ETag::Strong(etag)),
        ..Default::default()
    }
}

/// The stored parts the request lists, in its order: part numbers strictly ascending, each
/// part uploaded, and each listed ETag (when given) that of the stored part.
fn choose_parts(requested: &[CompletedPart], stored: &[StoredPart]) -> S3Result<Vec<StoredPart>> {
    let mut chosen = Vec::with_capacity(requested.len());
    let mut last = 0;
    for p in requested {
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
    Ok(chosen)
}

/// Concatenates the parts (`total` bytes) and computes the multipart ETag: the MD5 of the
/// parts' MD5s, then `-` and the number of parts.
async fn assemble(parts: Vec<StoredPart>, total: u64) -> S3Result<(Vec<u8>, String)> {
    blocking(move || {
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
}

impl Front {
    pub(super) async fn complete_multipart_upload(
        self: Arc<Self>,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let i = req.input;
        let claim = self.completing.claim(&i.upload_id);
        let _one_at_a_time = claim.lock.lock().await;
        if let Some(done) = self.uploads.completed(&i.upload_id)
            && done.bucket == i.bucket
            && done.key == i.key
        {
            // A retried Complete (the first answer was lost): same answer, nothing appended again.
            return Ok(S3Response::new(completed(i.bucket, i.key, done.etag)));
        }
        let meta = self.upload(&i.upload_id, &i.bucket, &i.key)?;
        let requested = i.multipart_upload.and_then(|m| m.parts).unwrap_or_default();
        if requested.is_empty() {
            return Err(s3_error!(
                MalformedXML,
                "CompleteMultipartUpload lists no parts"
            ));
        }
        let stored = self.uploads.parts(&meta.upload_id).map_err(internal)?;
        let parts = choose_parts(&requested, &stored)?;
        let total: u64 = parts.iter().map(|p| p.size).sum();
        if total > self.shared.max_request_bytes {
            return Err(s3_error!(
                EntityTooLarge,
                "assembled object is over the {}-byte limit",
                self.shared.max_request_bytes
            ));
        }
        self.check_room(&meta.stream)?;
        let (body, etag) = assemble(parts, total).await?;
        self.ingest(&meta, body, &etag, total).await?;
        self.clone().finish(meta, etag.clone()).await?;
        Ok(S3Response::new(completed(i.bucket, i.key, etag)))
    }

    /// Appends the assembled object's records, or lands it whole for a pass-through stream.
    async fn ingest(
        &self,
        meta: &UploadMeta,
        body: Vec<u8>,
        etag: &str,
        total: u64,
    ) -> S3Result<()> {
        if self.shared.is_pass_through(&meta.stream) {
            object::land_whole(&self.landing, &self.shared, &meta.stream, &meta.info, body).await?;
        } else {
            let batch =
                object::parse_object(&self.shared, &meta.stream, &meta.info, body, etag).await?;
            self.append_once(meta, batch, total).await?;
        }
        Ok(())
    }

    /// Appends the upload's records under its id as idempotency key (see the module doc).
    async fn append_once(
        &self,
        meta: &UploadMeta,
        batch: records::Batch,
        total: u64,
    ) -> S3Result<()> {
        let (stream, records) = (&meta.stream, batch.records());
        let receipt = self
            .landing
            .append_once(stream, &meta.upload_id, batch)
            .await
            .map_err(|e| object::append_error(e, self.shared.retry_after_secs))?;
        if receipt.is_duplicate() {
            tracing::info!(upload_id = %meta.upload_id, %stream, first_seq = receipt.first_seq,
                records = receipt.records,
                "a retried CompleteMultipartUpload: its records were taken before, not appended again");
            return Ok(());
        }
        use landing::metric_names as m;
        metrics::counter!(m::BYTES_RECEIVED_TOTAL, "stream" => stream.clone()).increment(total);
        metrics::counter!(m::RECORDS_RECEIVED_TOTAL, "stream" => stream.clone()).increment(records);
        metrics::counter!(m::S3_OBJECTS_TOTAL, "stream" => stream.clone()).increment(1);
        Ok(())
    }

    /// Writes the completion marker and removes the parts. The object is already durable,
    /// so failing to remove the parts is only logged.
    async fn finish(self: Arc<Self>, meta: UploadMeta, etag: String) -> S3Result<()> {
        let id = meta.upload_id.clone();
        let removed = tokio::task::spawn_blocking(move || self.uploads.finish(&meta, &etag))
            .await
            .map_err(internal)?;
        if let Err(e) = removed {
            tracing::warn!(upload_id = %id, error = %e,
                "the object is durable but its completion marker could not be written or its parts removed (a retried Complete still appends nothing)");
        }
        Ok(())
    }
}
