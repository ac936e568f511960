//! Encoding a spool segment into a landed file: compressed NDJSON, one line per record with
//! its ingestion metadata (docs/architecture.md, contract 1), plus the file's manifest.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::Compression;
use crate::spool::segment::{SegmentInfo, for_each_frame};
use records::batch::{Entry, Payload};

/// The manifest written beside each landed file.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Manifest {
    pub key: String,
    pub stream: String,
    pub instance: String,
    pub records: u64,
    pub first_seq: u64,
    pub last_seq: u64,
    pub uncompressed_bytes: u64,
    pub bytes: u64,
    pub sha256: String,
    pub compression: String,
    pub created_at: String,
}

/// The key a segment lands under: `{prefix}/{stream}/dt=…/hh=…/{instance}-{first_seq}.ndjson.{ext}`.
pub fn landed_key(
    prefix: &str,
    stream: &str,
    instance: &str,
    opened_at_ms: i64,
    first_seq: u64,
    compression: Compression,
) -> String {
    let at = DateTime::from_timestamp_millis(opened_at_ms).unwrap_or_default();
    let mut key = String::new();
    if !prefix.is_empty() {
        key.push_str(prefix.trim_matches('/'));
        key.push('/');
    }
    key.push_str(&format!(
        "{stream}/dt={}/hh={}/{instance}-{first_seq:020}.ndjson.{}",
        at.format("%Y-%m-%d"),
        at.format("%H"),
        compression.extension()
    ));
    key
}

pub(crate) fn rfc3339_ms(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

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

/// Writes the landed file for `segment` to `out` and returns its manifest (for `key`).
pub(crate) fn encode_segment(
    segment: &SegmentInfo,
    key: &str,
    stream: &str,
    instance: &str,
    compression: Compression,
    out: &Path,
) -> io::Result<Manifest> {
    let file = File::create(out)?;
    let stored = Counting {
        inner: BufWriter::with_capacity(1 << 20, file),
        bytes: 0,
        hash: Some(Sha256::new()),
    };
    let (uncompressed, records, mut stored) = match compression {
        Compression::Zstd { level } => {
            let mut enc = zstd::stream::write::Encoder::new(stored, level)?;
            enc.include_checksum(true)?;
            let (u, r) = write_lines(segment, stream, instance, &mut enc)?;
            (u, r, enc.finish()?)
        }
        Compression::Gzip { level } => {
            let mut enc = flate2::write::GzEncoder::new(stored, flate2::Compression::new(level));
            let (u, r) = write_lines(segment, stream, instance, &mut enc)?;
            (u, r, enc.finish()?)
        }
    };
    stored.flush()?;
    let hash = stored.hash.take().expect("hash present").finalize();
    let bytes = stored.bytes;
    let file = stored.inner.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
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
    Ok(Manifest {
        key: key.to_owned(),
        stream: stream.to_owned(),
        instance: instance.to_owned(),
        records,
        first_seq: segment.first_seq,
        last_seq: segment.last_seq(),
        uncompressed_bytes: uncompressed,
        bytes,
        sha256: hex::encode(hash),
        compression: compression.name().to_owned(),
        created_at: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
    })
}

fn write_lines(
    segment: &SegmentInfo,
    stream: &str,
    instance: &str,
    w: &mut impl Write,
) -> io::Result<(u64, u64)> {
    let mut out = Counting {
        inner: BufWriter::with_capacity(1 << 18, w),
        bytes: 0,
        hash: None,
    };
    let stream_json = serde_json::to_string(stream).expect("string serializes");
    let instance_json = serde_json::to_string(instance).expect("string serializes");
    let mut records = 0u64;
    let mut line = Vec::with_capacity(4096);
    for_each_frame(&segment.path, |frame| {
        let payload = Payload::parse(frame).ok_or_else(|| corrupt(segment))?;
        let received_at = rfc3339_ms(payload.received_at_ms);
        let mut seq = payload.first_seq;
        let mut attrs: &[u8] = b"{}";
        for entry in payload.entries() {
            match entry.ok_or_else(|| corrupt(segment))? {
                Entry::Group(a) => attrs = a,
                Entry::Record(r) => {
                    line.clear();
                    line.extend_from_slice(b"{\"record\":");
                    line.extend_from_slice(r);
                    line.extend_from_slice(b",\"meta\":{\"stream\":");
                    line.extend_from_slice(stream_json.as_bytes());
                    line.extend_from_slice(b",\"instance\":");
                    line.extend_from_slice(instance_json.as_bytes());
                    line.extend_from_slice(b",\"seq\":");
                    line.extend_from_slice(seq.to_string().as_bytes());
                    line.extend_from_slice(b",\"received_at\":\"");
                    line.extend_from_slice(received_at.as_bytes());
                    line.extend_from_slice(b"\",\"attributes\":");
                    line.extend_from_slice(attrs);
                    line.extend_from_slice(b"}}\n");
                    out.write_all(&line)?;
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
    use super::*;

    #[test]
    fn key_layout() {
        let ms = DateTime::parse_from_rfc3339("2026-11-24T13:05:00Z")
            .unwrap()
            .timestamp_millis();
        assert_eq!(
            landed_key("raw/", "customers", "ss-1", ms, 42, Compression::default()),
            "raw/customers/dt=2026-11-24/hh=13/ss-1-00000000000000000042.ndjson.zst"
        );
        assert_eq!(
            landed_key("", "c", "i", ms, 1, Compression::Gzip { level: 6 }),
            "c/dt=2026-11-24/hh=13/i-00000000000000000001.ndjson.gz"
        );
    }
}
