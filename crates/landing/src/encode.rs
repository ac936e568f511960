//! Encoding a spool segment into a landed file: compressed NDJSON, one line per record with
//! its ingestion metadata (docs/architecture.md, contract 1), plus the file's manifest.

use std::io::{self, BufWriter, Write};

use chrono::Utc;
use records::landed::{Envelope, LineWriter, Manifest, format_time};
use sha2::{Digest, Sha256};

use crate::config::Compression;
use crate::spool::segment::{SegmentInfo, for_each_frame};

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

/// Encodes the landed file for `segment` into `out` and returns its manifest (for `key`) with
/// `out`. The lander hands `out` pieces to a staged put of the sink ([`crate::sink::Staging`]),
/// so a file is never held whole and nothing is written to the spool disk (a full spool disk
/// must still be able to drain).
pub(crate) fn encode_segment<W: Write>(
    segment: &SegmentInfo,
    key: &str,
    stream: &str,
    instance: &str,
    compression: Compression,
    envelope: Envelope,
    out: W,
) -> io::Result<(Manifest, W)> {
    let stored = Digesting::new(out);
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
    let (sha256, bytes, body) = stored.finish();
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
        sha256,
        compression: compression.codec(),
        created_at: format_time(Utc::now().timestamp_millis()),
        envelope,
    };
    Ok((manifest, body))
}

/// The SHA-256 (hex) and length of the uncompressed lines `segment` lands as: the same on
/// every encode, so an object found under the key holds this batch when its lines hash alike.
pub(crate) fn lines_sha256(
    segment: &SegmentInfo,
    stream: &str,
    instance: &str,
    envelope: Envelope,
) -> io::Result<(String, u64)> {
    let mut hashed = Digesting::new(io::sink());
    write_lines(segment, stream, instance, envelope, &mut hashed)?;
    let (sha256, bytes, _) = hashed.finish();
    Ok((sha256, bytes))
}

/// Counts and hashes what passes through to `inner` (SHA-256, hex), for comparing an object
/// read back from a sink without holding it.
pub(crate) struct Digesting<W> {
    inner: Counting<W>,
}

impl<W: Write> Digesting<W> {
    pub(crate) fn new(inner: W) -> Self {
        Self {
            inner: Counting {
                inner,
                bytes: 0,
                hash: Some(Sha256::new()),
            },
        }
    }

    /// The SHA-256 (hex) and length of what was written, and the inner writer.
    pub(crate) fn finish(mut self) -> (String, u64, W) {
        let hash = self.inner.hash.take().expect("hash present").finalize();
        (hex::encode(hash), self.inner.bytes, self.inner.inner)
    }
}

impl<W: Write> Write for Digesting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
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
        records += lines.write_batch(frame, &mut out).map_err(|e| {
            if e.kind() == io::ErrorKind::InvalidData {
                corrupt(segment)
            } else {
                e
            }
        })?;
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
