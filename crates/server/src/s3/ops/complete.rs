//! CompleteMultipartUpload: checks the listed parts against the stored ones, ingests the
//! object exactly once and leaves a completion marker so a retried Complete gets the same
//! answer without appending the records again.
//!
//! Bounded memory: an NDJSON or CSV object is read from its parts' files in chunks of whole
//! records (`chunked`, about 4 MiB each), parsed and appended chunk by chunk, so its size
//! does not matter: each chunk's batch is bounded by `--max-request-size`, the whole object
//! (its parts, and what they inflate to when gzip'd) by what the spool can hold
//! ([`ObjectLimit`](super::multipart::ObjectLimit)). It is
//! read twice: first every chunk is parsed and checked (a bad record anywhere keeps nothing,
//! as for a PutObject), then each chunk is appended: the first [`KEPT_CHUNKS`] from the batches the first pass kept, the
//! others parsed again. A JSON object (one document or an array) does not split: it is
//! read and parsed whole, within `--max-request-size`; so is the object of a pass-through
//! stream, which the sink takes as one body (`Landing::put_whole` wants the whole body).
//! Completes in flight share a memory budget ([`COMPLETE_MEMORY_MIB`]) and wait for their
//! share.
//!
//! Exactly once across a crash: chunk `n` is appended with the key `{upload_id}/{n}`
//! ([`landing::Landing::append_once`]), whose ledger survives restarts and outlives the
//! batch's landing. Before the first append the chosen parts (number and MD5) and how the
//! object is cut (chunk size and format) are recorded durably in the upload's folder; a retry
//! that lists other parts is refused (InvalidPart), and one that lists the same parts cuts the
//! object as recorded, whatever version or settings it runs with: the chunks are only the same
//! chunks when the object is the same bytes cut the same way. A chunk refused after others
//! were appended says so (those are durable; the retry resumes at it). The upload's
//! folder is removed only after the completion marker is durable, so a crash anywhere between
//! the first append and the marker leaves the upload in place: the client's retried Complete
//! reads it again, the spool answers "already taken" for the chunks it has and the rest are
//! appended, and the marker is written then. A crash after the marker: the retry is answered
//! from the marker. An append refused (disk full or failing: 503 SlowDown) keeps nothing of
//! its chunk, key included, so the retry appends it once.

use std::collections::HashMap;
use std::fs::File;
use std::sync::Arc;

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::super::chunked;
use super::super::error::{append_error, internal};
use super::super::object;
use super::super::uploads::{Choice, Cut, Plan, StoredPart, UploadMeta};
use super::listed::{choose_parts, completed, multipart_etag, open_parts, other_parts, read_whole};
use super::{Front, blocking};

/// Memory (MiB) the Completes in flight may use for chunk buffers and batches together. A
/// chunked Complete takes [`CHUNKED_SHARE`] chunks of it; a whole one three times its size
/// (capped at the budget, so one over it runs alone).
pub(crate) const COMPLETE_MEMORY_MIB: u32 = 128;

/// Batches of the first chunks a chunked Complete keeps from its checking pass, so an object
/// of up to this many chunks is parsed once (see the module doc).
const KEPT_CHUNKS: u64 = 3;

/// A chunked Complete's share, in chunks: the kept batches, the chunk being cut and the
/// batch parsed from it.
const CHUNKED_SHARE: u64 = KEPT_CHUNKS + 2;

/// Upload ids being completed right now, each with the lock its completions queue on.
pub(crate) struct Completing {
    claims: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// [`COMPLETE_MEMORY_MIB`], one permit per MiB.
    memory: tokio::sync::Semaphore,
}

impl Default for Completing {
    fn default() -> Self {
        Completing {
            claims: Default::default(),
            memory: tokio::sync::Semaphore::new(COMPLETE_MEMORY_MIB as usize),
        }
    }
}

/// Holds one upload id's completion lock; forgets the id when nobody else waits for it.
struct Claim<'a> {
    map: &'a Completing,
    id: String,
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl Completing {
    fn claim(&self, id: &str) -> Claim<'_> {
        let lock = self
            .claims
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
        let mut map = self.map.claims.lock().expect("lock");
        // Only the map and this claim hold it: nobody else is waiting.
        if Arc::strong_count(&self.lock) == 2 {
            map.remove(&self.id);
        }
    }
}

/// What a Complete appended: records new to the spool, and chunks already taken earlier.
#[derive(Default)]
struct Appended {
    records: u64,
    new_chunks: u64,
    taken_chunks: u64,
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
        let limit = self.object_limit(&meta);
        if total > limit.bytes {
            return Err(limit.too_large());
        }
        self.check_room(&meta.stream)?;
        let etag = multipart_etag(&parts);
        self.ingest(&meta, parts, &etag, total).await?;
        self.clone().finish(meta, etag.clone()).await?;
        Ok(S3Response::new(completed(i.bucket, i.key, etag)))
    }

    /// Appends the object's records, or lands it whole for a pass-through stream.
    async fn ingest(
        self: &Arc<Self>,
        meta: &UploadMeta,
        parts: Vec<StoredPart>,
        etag: &str,
        total: u64,
    ) -> S3Result<()> {
        let chosen: Vec<(i32, String)> = parts
            .iter()
            .map(|p| (p.number, p.md5_hex.clone()))
            .collect();
        // A retry with other parts is refused before anything is read; one with the same parts
        // cuts the object as the first attempt recorded.
        let (me, id) = (self.clone(), meta.upload_id.clone());
        let recorded = blocking(move || me.uploads.chosen(&id)).await?;
        if let Some(before) = &recorded
            && before.parts != chosen
        {
            return Err(other_parts(&before.parts));
        }
        let pass_through = self.shared.is_pass_through(&meta.stream);
        let cut = match recorded.and_then(|p| p.cut) {
            Some(cut) => cut,
            None => {
                let format = meta.info.format(&self.shared, &meta.stream);
                let chunked = !pass_through && crate::cut::splits(format);
                Cut {
                    chunk_bytes: if chunked {
                        self.config.complete_chunk_bytes.max(1)
                    } else {
                        0
                    },
                    format: format.name().to_owned(),
                }
            }
        };
        let format = records::Format::from_name(&cut.format)
            .ok_or_else(|| internal(format!("recorded format {:?} is unknown", cut.format)))?;
        let chunked = !pass_through && cut.chunk_bytes > 0;
        let plan = Plan {
            parts: chosen,
            cut: Some(cut.clone()),
        };
        // A gzip'd whole object counts what it inflates to against the body budget instead.
        let bytes = if chunked {
            CHUNKED_SHARE * cut.chunk_bytes as u64
        } else {
            total.saturating_mul(3)
        };
        let need = u32::try_from(bytes >> 20)
            .unwrap_or(u32::MAX)
            .clamp(1, COMPLETE_MEMORY_MIB);
        let _memory = self
            .completing
            .memory
            .acquire_many(need)
            .await
            .map_err(internal)?;
        let files = blocking(move || open_parts(&parts)).await?;
        if chunked {
            let appended = self
                .clone()
                .ingest_chunked(meta.clone(), files, plan, format, etag.to_owned())
                .await?;
            self.count(meta, &appended, total);
            return Ok(());
        }
        let mut files = files;
        let body = blocking(move || read_whole(&mut files, total)).await?;
        if pass_through {
            object::land_whole(&self.landing, &self.shared, &meta.stream, &meta.info, body).await?;
            return Ok(());
        }
        let budget = Arc::new(tokio::sync::Mutex::new(
            self.shared.body_budget.reservation("s3"),
        ));
        let held = meta.info.gzipped().then_some(budget.lock_owned().await);
        let batch =
            object::parse_object(&self.shared, &meta.stream, &meta.info, body, etag, held).await?;
        let created = self.record_choice(meta, plan).await?;
        let appended = self.append_chunk(meta, 0, batch, created).await?;
        self.count(meta, &appended, total);
        Ok(())
    }

    /// Records the chosen parts before the first append (see the module doc); true when
    /// this Complete recorded them (no earlier attempt did).
    async fn record_choice(self: &Arc<Self>, meta: &UploadMeta, plan: Plan) -> S3Result<bool> {
        let (me, id) = (self.clone(), meta.upload_id.clone());
        match blocking(move || me.uploads.choose(&id, &plan)).await? {
            Choice::New => Ok(true),
            Choice::Same => Ok(false),
            Choice::Other(before) => Err(other_parts(&before)),
        }
    }

    /// Appends chunk `n` under its key. When the first chunk of a Complete that recorded the
    /// part list is refused, nothing of the object is kept, so the list is forgotten too.
    async fn append_chunk(
        &self,
        meta: &UploadMeta,
        n: u64,
        batch: records::Batch,
        created: bool,
    ) -> S3Result<Appended> {
        let key = format!("{}/{n}", meta.upload_id);
        let receipt = match self.landing.append_once(&meta.stream, &key, batch).await {
            Ok(r) => r,
            Err(e) => {
                if n == 0
                    && created
                    && let Err(e) = self.uploads.unchoose(&meta.upload_id)
                {
                    tracing::warn!(upload_id = %meta.upload_id, error = %e,
                        "could not forget the part list of a Complete that kept nothing");
                }
                let mut err = append_error(e, self.shared.retry_after_secs);
                if n > 0 {
                    // Say what is durable: the first chunks are, and the retry skips them.
                    let reason = err.message().unwrap_or_default().to_owned();
                    err.set_message(format!(
                        "{reason}. Chunks 0..={} of the object are durable; chunk {n} and \
                         those after it were not kept. Retry the CompleteMultipartUpload with \
                         the same parts: it resumes at chunk {n} and appends nothing twice",
                        n - 1
                    ));
                }
                return Err(err);
            }
        };
        let mut a = Appended::default();
        if receipt.is_duplicate() {
            tracing::info!(upload_id = %meta.upload_id, stream = %meta.stream, chunk = n,
                first_seq = receipt.first_seq, records = receipt.records,
                "a retried CompleteMultipartUpload: this chunk's records were taken before, not appended again");
            a.taken_chunks = 1;
        } else {
            a.records = receipt.records;
            a.new_chunks = 1;
        }
        Ok(a)
    }

    /// Parses the object chunk by chunk twice on a blocking thread: every chunk checked, then
    /// each appended (see the module doc).
    async fn ingest_chunked(
        self: Arc<Self>,
        meta: UploadMeta,
        mut files: Vec<File>,
        plan: Plan,
        format: records::Format,
        etag: String,
    ) -> S3Result<Appended> {
        let runtime = tokio::runtime::Handle::current();
        let chunk_bytes = plan.cut.as_ref().map_or(1, |c| c.chunk_bytes.max(1));
        let work = move || -> S3Result<Appended> {
            let gzip = meta.info.gzipped();
            // Each chunk's batch within the request limit; the object, inflated and landed,
            // within what the spool can hold.
            let max = self.shared.max_request_bytes;
            let limit = self.object_limit(&meta);
            let envelope = self.shared.envelope(&meta.stream);
            let key = meta.info.key.as_str();
            let mut attrs = meta.info.attributes(&etag);
            // The same on every chunk, and on the chunks a retry appends.
            let uuid = uuid::Uuid::parse_str(&meta.upload_id)
                .map_or_else(|_| meta.upload_id.clone(), |u| u.to_string());
            crate::received::set_attr(&mut attrs, "uuid", &uuid);
            // Pass 1: every record parses and each chunk fits the limit; nothing appended.
            // The first chunks' batches are kept for pass 2, and each chunk's record count noted.
            let mut records = 0u64;
            let mut sizes: Vec<u64> = Vec::new();
            let mut kept = Vec::new();
            chunked::for_each_chunk(
                &mut files,
                gzip,
                limit.bytes,
                format,
                chunk_bytes,
                &mut |c| {
                    let batch = chunked::parse_chunk(
                        &c,
                        format,
                        &attrs,
                        max,
                        records,
                        (key, max, envelope),
                    )?;
                    sizes.push(batch.records());
                    records += batch.records();
                    if kept.len() < KEPT_CHUNKS as usize {
                        kept.push(batch);
                    }
                    Ok(())
                },
            )?;
            let created = runtime.block_on(self.record_choice(&meta, plan))?;
            // Pass 2: each chunk appended under its own key; those not kept parsed again.
            let mut appended = Appended::default();
            let mut append = |n: u64, batch: records::Batch| -> S3Result<()> {
                let a = runtime.block_on(self.append_chunk(&meta, n, batch, created))?;
                appended.records += a.records;
                appended.new_chunks += a.new_chunks;
                appended.taken_chunks += a.taken_chunks;
                // Fails or crashes (per the test's action) after a chunk is durable.
                fail::fail_point!("s3-complete-chunk", |_| Err(s3_error!(
                    InternalError,
                    "injected failure after chunk {n}"
                )));
                Ok(())
            };
            let kept_count = kept.len();
            for (n, batch) in kept.into_iter().enumerate() {
                append(n as u64, batch)?;
            }
            if sizes.len() > kept_count {
                let mut records = 0u64;
                chunked::for_each_chunk(
                    &mut files,
                    gzip,
                    limit.bytes,
                    format,
                    chunk_bytes,
                    &mut |c| {
                        let n = c.index as usize;
                        if n >= kept_count {
                            let batch = chunked::parse_chunk(
                                &c,
                                format,
                                &attrs,
                                max,
                                records,
                                (key, max, envelope),
                            )?;
                            append(c.index, batch)?;
                        }
                        records += sizes.get(n).copied().unwrap_or_default();
                        Ok(())
                    },
                )?;
            }
            Ok(appended)
        };
        tokio::task::spawn_blocking(work).await.map_err(internal)?
    }

    /// Counts an ingested object in the metrics (its bytes and object once, when a chunk of it
    /// was new).
    fn count(&self, meta: &UploadMeta, a: &Appended, total: u64) {
        if a.new_chunks == 0 {
            return;
        }
        if a.taken_chunks > 0 {
            tracing::info!(upload_id = %meta.upload_id, stream = %meta.stream,
                taken = a.taken_chunks, appended = a.new_chunks,
                "a retried CompleteMultipartUpload appended the chunks an earlier attempt had not");
        }
        use landing::metric_names as m;
        let stream = &meta.stream;
        metrics::counter!(m::BYTES_RECEIVED_TOTAL, "stream" => stream.clone()).increment(total);
        metrics::counter!(m::RECORDS_RECEIVED_TOTAL, "stream" => stream.clone())
            .increment(a.records);
        metrics::counter!(m::S3_OBJECTS_TOTAL, "stream" => stream.clone()).increment(1);
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
