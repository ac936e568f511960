//! Encoding a spool segment into a landed file: compressed NDJSON, one line per record with
//! its ingestion metadata (docs/architecture.md, contract 1), plus the file's manifest.

use std::io::{self, BufWriter, Write};

use chrono::Utc;
use records::landed::{Envelope, LineWriter, Manifest, format_time};
use sha2::{Digest, Sha256};

use crate::config::Compression;
use crate::spool::segment::{SegmentInfo, for_each_frame};
use records::batch::{Entry, Payload};

struct Counting<W> {
    inner: W,
    bytes: u64,
    hash: Option<Sha256>,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        if let Some(h) = self.hash.as_mut() {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Encodes the landed file for `segment` in memory and returns it with its manifest (for
/// `key`). Nothing is written to disk: a full spool disk must still be able to drain, and a
/// batch is at most `batch_max_bytes` (capped at half the spool limit) before compression.
pub(crate) fn encode_segment(
    segment: &SegmentInfo,
    key: &str,
    stream: &str,
    instance: &str,
    compression: Compression,
    envelope: Envelope,
) -> io::Result<(Manifest, Vec<u8>)> {
    // Room for the whole compressed file up front: growing a Vec of tens of MiB by doubling
    // copies it and faults in every page it passes through (15% of the bulk scenario's CPU
    // went to page faults, most of them here). Untouched capacity costs address space, not
    // memory: only the pages the encoder writes become resident.
    let stored = Counting {
        inner: Vec::with_capacity(segment.bytes as usize + (1 << 16)),
        bytes: 0,
        hash: Some(Sha256::new()),
    };
    let (uncompressed, records, mut stored) = match compression {
        Compression::Zstd { level } => {
            let mut enc = zstd::stream::write::Encoder::new(stored, level)?;
            enc.include_checksum(true)?;
            let (u, r) = write_lines(segment, stream, instance, envelope, &mut enc)?;
            (u, r, enc.finish()?)
        }
        Compression::Gzip { level } => {
            let mut enc = flate2::write::GzEncoder::new(stored, flate2::Compression::new(level));
            let (u, r) = write_lines(segment, stream, instance, envelope, &mut enc)?;
            (u, r, enc.finish()?)
        }
    };
    stored.flush()?;
    let hash = stored.hash.take().expect("hash present").finalize();
    let bytes = stored.bytes;
    let body = stored.inner;
    if records != segment.records {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "spool segment {} holds {records} readable records, expected {}",
                segment.path.display(),
                segment.records
            ),
        ));
    }
    let manifest = Manifest {
        key: key.to_owned(),
        stream: stream.to_owned(),
        instance: instance.to_owned(),
        records,
        first_seq: segment.first_seq,
        last_seq: segment.last_seq(),
        uncompressed_bytes: uncompressed,
        bytes,
        sha256: hex::encode(hash),
        compression: compression.codec(),
        created_at: format_time(Utc::now().timestamp_millis()),
        envelope,
    };
    Ok((manifest, body))
}

fn write_lines(
    segment: &SegmentInfo,
    stream: &str,
    instance: &str,
    envelope: Envelope,
    w: &mut impl Write,
) -> io::Result<(u64, u64)> {
    let mut out = Counting {
        inner: BufWriter::with_capacity(1 << 18, w),
        bytes: 0,
        hash: None,
    };
    let mut lines = LineWriter::new(stream, instance).with_envelope(envelope);
    let mut records = 0u64;
    for_each_frame(&segment.path, segment.bytes, |frame| {
        let payload = Payload::parse(frame).ok_or_else(|| corrupt(segment))?;
        let received_at = format_time(payload.received_at_ms);
        let mut seq = payload.first_seq;
        let mut attrs: &[u8] = b"{}";
        for entry in payload.entries() {
            match entry.ok_or_else(|| corrupt(segment))? {
                Entry::Group(a) => attrs = a,
                Entry::Record(r) => {
                    out.write_all(lines.line(r, seq, &received_at, attrs))?;
                    seq += 1;
                    records += 1;
                }
            }
        }
        Ok(())
    })?;
    out.flush()?;
    Ok((out.bytes, records))
}

fn corrupt(segment: &SegmentInfo) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("corrupt batch in spool segment {}", segment.path.display()),
    )
}

#[cfg(test)]
mod tests {
    use records::landed::LandedKey;

    use super::*;

    #[test]
    fn key_layout() {
        let ms = chrono::DateTime::parse_from_rfc3339("2026-11-24T13:05:00Z")
            .unwrap()
            .timestamp_millis();
        let key = |prefix, stream, instance, seq, c: Compression| {
            LandedKey::new(prefix, stream, instance, ms, seq, c.codec()).to_string()
        };
        assert_eq!(
            key("raw/", "customers", "ss-1", 42, Compression::default()),
            "raw/customers/dt=2026-11-24/hh=13/ss-1-00000000000000000042.ndjson.zst"
        );
        assert_eq!(
            key("", "c", "i", 1, Compression::Gzip { level: 6 }),
            "c/dt=2026-11-24/hh=13/i-00000000000000000001.ndjson.gz"
        );
    }
}
