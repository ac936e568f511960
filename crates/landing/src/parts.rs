//! Appending one large request in parts ([`Landing::begin_parts`]): the front door cuts the
//! request's records into batches as it parses them and pushes each to a [`PartsAppend`],
//! which writes it to an anonymous temporary file in the stream's spool folder (on the
//! blocking pool) and reserves its spool bytes; `commit` then has the spool writer append
//! every part and the last batch as one run of frames (`spool::segment`): acknowledged once,
//! after the fsync that covers all of it, and after a crash either all of it lands or none.
//! So the request's records are never held whole in memory, by the front door or the writer
//! (which reads the parts back one at a time).

use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::sync::Arc;

use records::Batch;

use crate::error::AppendError;
use crate::service::{FRAME_OVERHEAD, Landing, StreamInput};
use crate::spool::{Body, Part, Receipt, Run};

impl Landing {
    /// Starts an append of one request's records in parts, to `stream`.
    pub fn begin_parts(&self, stream: &str) -> Result<PartsAppend, AppendError> {
        let input = self.stream(stream)?.input.clone();
        if input.closed() {
            return Err(AppendError::ShuttingDown);
        }
        Ok(PartsAppend {
            input,
            file: None,
            parts: Vec::new(),
            len: 0,
            records: 0,
            reserved: 0,
            interrupted: false,
        })
    }
}

/// One request's records pushed part by part to an anonymous temporary file in the
/// stream's spool folder, then appended as one atomic run of frames. Dropping it without
/// commit throws the parts away (file closed, spool bytes given back).
pub struct PartsAppend {
    input: StreamInput,
    /// The parts, back to back from offset 0 (created with the first part).
    file: Option<Arc<File>>,
    parts: Vec<Part>,
    /// Bytes of the parts in the file: where the next one goes.
    len: u64,
    records: u64,
    /// Spool bytes reserved for the parts (given back on drop unless committed).
    reserved: u64,
    /// A push was dropped while its write ran: the file may still change under it, so the
    /// append can go no further.
    interrupted: bool,
}

/// It goes with its request's task from thread to thread.
const _: () = {
    const fn send<T: Send>() {}
    send::<PartsAppend>()
};

impl PartsAppend {
    /// Writes one part (a complete batch) to the temporary file; reserves its spool bytes
    /// (refused like `append` when the spool is full). Empty batches (0 records) are skipped.
    pub async fn push(&mut self, part: Batch) -> Result<(), AppendError> {
        let records = part.records();
        if records == 0 {
            return Ok(());
        }
        self.usable()?;
        let bytes = part.into_bytes();
        let len = bytes.len() as u64;
        let reserved = len + FRAME_OVERHEAD;
        self.input.gauge.try_reserve(reserved)?;
        // Counted at once, so that dropping this future mid-write still gives it back.
        self.reserved += reserved;
        self.interrupted = true;
        let (file, dir, at) = (self.file.clone(), self.input.dir.clone(), self.len);
        let written = tokio::task::spawn_blocking(move || -> io::Result<Arc<File>> {
            let file = match file {
                Some(f) => f,
                None => Arc::new(tempfile::tempfile_in(&dir)?),
            };
            fail::fail_point!("spool-parts-write", |arg| Err(
                crate::error::injected_io_error(arg)
            ));
            let mut f = &*file;
            f.seek(SeekFrom::Start(at))?;
            f.write_all(&bytes)?;
            Ok(file)
        })
        .await;
        self.interrupted = false;
        let failed = match written {
            Ok(Ok(file)) => {
                self.file = Some(file);
                self.parts.push(Part { len, records });
                self.len += len;
                self.records += records;
                return Ok(());
            }
            Ok(Err(e)) => AppendError::from_io("write a part of the request to the spool", &e),
            Err(e) => AppendError::Spool(format!(
                "writing a part of the request to the spool stopped: {e}"
            )),
        };
        // Nothing of this part counts (a partial write is overwritten by the next part).
        self.reserved -= reserved;
        self.input.gauge.release(reserved);
        Err(failed)
    }

    /// Appends every pushed part and `last` as one run of frames; resolves like
    /// `Landing::append` (per the stream's ack mode), with one Receipt covering all records
    /// (first_seq of the first frame, records = the sum). With nothing pushed it is exactly
    /// `Landing::append(stream, last)`.
    pub async fn commit(mut self, last: Batch) -> Result<Receipt, AppendError> {
        self.usable()?;
        let last_records = last.records();
        let Some(file) = self.file.take().filter(|_| !self.parts.is_empty()) else {
            if last_records == 0 {
                return Ok(Receipt::empty());
            }
            let payload = last.into_bytes();
            let reserved = payload.len() as u64 + FRAME_OVERHEAD;
            self.input.gauge.try_reserve(reserved)?;
            return (self.input)
                .send(Body::One(payload), last_records, reserved, None)
                .await;
        };
        let last = (last_records > 0).then(|| last.into_bytes());
        let last_reserved = last.as_ref().map_or(0, |l| l.len() as u64 + FRAME_OVERHEAD);
        if last_reserved > 0 {
            self.input.gauge.try_reserve(last_reserved)?;
        }
        // From here the writer keeps or gives back every byte reserved (and `send` when the
        // writer is gone): nothing is left for `drop` to give back.
        let reserved = std::mem::take(&mut self.reserved) + last_reserved;
        let run = Run {
            file,
            parts: std::mem::take(&mut self.parts),
            last: last.map(|l| (l, last_records)),
        };
        let records = self.records + last_records;
        (self.input)
            .send(Body::Run(run), records, reserved, None)
            .await
    }

    /// Records pushed so far (not counting `last`).
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Refuses to go on once shutting down, or after a push was dropped mid-write.
    fn usable(&self) -> Result<(), AppendError> {
        if self.interrupted {
            return Err(AppendError::Spool(
                "an earlier part's write was abandoned; start the append again".to_owned(),
            ));
        }
        if self.input.closed() {
            return Err(AppendError::ShuttingDown);
        }
        Ok(())
    }
}

impl Drop for PartsAppend {
    fn drop(&mut self) {
        self.input.gauge.release(self.reserved);
        // Closing a file of up to hundreds of MiB frees its blocks: not on a runtime worker.
        if let Some(file) = self.file.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn_blocking(move || drop(file));
        }
    }
}
