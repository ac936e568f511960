//! Committing one encoded batch and putting its manifest, create-only.
//!
//! A batch's key is unique by construction (instance id, sequence number, hour), and the sink
//! never replaces an object (a staged put is committed create-only, `sink::commit`). What an
//! object already under the key means, read back in pieces (never held whole):
//! - **the same batch**, landed before a crash or a lost answer and landed again now from the
//!   spool: the same bytes (its SHA-256 and size are the manifest's), or the same lines in
//!   other bytes (a re-encode by another version of the compressor: the SHA-256 of its
//!   decompressed lines is that of the lines the segment encodes to): success;
//! - **another batch** (two instances sharing one id, a sequence number reused): a collision.
//!   Neither side may be lost, so this batch lands under a key of its own: the same key with
//!   the instance id followed by `.x` and the first hex digits of the file's SHA-256 (the
//!   same digits on every attempt, so a re-land after a crash finds its own file there), the
//!   metric `snowstream_sink_collisions_total` counts it and an ERROR names both keys.

use std::io::{self, Write};

use bytes::Bytes;
use records::landed::{LandedKey, Manifest, manifest_key};

use super::encode_job::{EncodeJob, Encoded};
use crate::config::Compression;
use crate::encode::{Digesting, lines_sha256};
use crate::metric_names::SINK_COLLISIONS_TOTAL;
use crate::sink::{self, Once, Put, Sink, SinkError};

/// What one [`put_batch`] did.
pub(super) enum Step {
    /// The batch is in the sink (put now or found there) with its manifest.
    Landed(Manifest),
    /// The key was taken by another batch (`job.key` is now a key of its own), or the object
    /// found there vanished: encode again under `job.key`.
    Again,
}

/// Commits the staged batch under `job.key` and then puts its manifest. Safe to call again
/// (with the batch encoded again) after an error.
pub(super) async fn put_batch(
    sink: &dyn Sink,
    job: &mut EncodeJob,
    encoded: Encoded,
    digits: &mut usize,
) -> Result<Step, SinkError> {
    let Encoded {
        mut manifest,
        staged,
    } = encoded;
    if sink::commit(sink, staged).await? == Put::Exists {
        match what_is_there(sink, job, &manifest).await? {
            There::Same { sha256, bytes } => {
                manifest.sha256 = sha256;
                manifest.bytes = bytes;
                tracing::info!(stream = %manifest.stream, key = %manifest.key,
                    "the batch was in the sink already (landed before a restart): not put again");
            }
            There::Nothing => return Ok(Step::Again),
            There::Other { sha256 } => {
                let taken = manifest.key.clone();
                let Some(own) = collision_key(&taken, &manifest.sha256, *digits) else {
                    return Err(SinkError::InvalidKey {
                        key: taken,
                        reason: "collides with another object, and so does every key derived from it",
                    });
                };
                metrics::counter!(SINK_COLLISIONS_TOTAL, "stream" => manifest.stream.clone())
                    .increment(1);
                tracing::error!(stream = %manifest.stream, key = %taken, landed_as = %own,
                    existing_sha256 = %sha256, sha256 = %manifest.sha256,
                    "another batch is already stored under this batch's key (two instances with one \
                     instance id, or a sequence number used twice); it was left as it is and this \
                     batch lands under its own key");
                job.key = own;
                *digits *= 2;
                return Ok(Step::Again);
            }
        }
    }
    let json = Bytes::from(serde_json::to_vec_pretty(&manifest).expect("manifest serializes"));
    let key = manifest_key(&manifest.key);
    let ours = &manifest;
    let same = |there: &[u8]| {
        serde_json::from_slice::<Manifest>(there).is_ok_and(|m| same_batch(&m, ours))
    };
    if let Once::Collision(_) = sink::put_once(sink, &key, json, same).await? {
        // The data file is ours (created or recognised above); a manifest of something else
        // beside it was left as it is.
        metrics::counter!(SINK_COLLISIONS_TOTAL, "stream" => manifest.stream.clone()).increment(1);
        tracing::error!(stream = %manifest.stream, key = %key,
            "another manifest is stored beside this batch's file; it was left as it is");
    }
    Ok(Step::Landed(manifest))
}

/// What an object found under a batch's key is.
enum There {
    /// This batch: its SHA-256 and size (another encode's, if the bytes differ).
    Same { sha256: String, bytes: u64 },
    /// Another batch, with its SHA-256.
    Other { sha256: String },
    /// No object any more.
    Nothing,
}

/// Reads the object under `manifest.key` in pieces: its SHA-256 and size, and the SHA-256 of
/// its decompressed lines, compared with the batch's own (those of the lines only when the
/// bytes differ: the segment is read again to hash them).
async fn what_is_there(
    sink: &dyn Sink,
    job: &EncodeJob,
    manifest: &Manifest,
) -> Result<There, SinkError> {
    let io_error = |action, source| SinkError::Io {
        backend: sink.describe(),
        key: manifest.key.clone(),
        action,
        source,
    };
    let decoding = Decoding::new(job.compression)
        .map_err(|e| io_error("set up a decompressor to compare the object", e))?;
    let mut read = Digesting::new(decoding);
    let mut broken = None;
    let found = sink
        .read_each(&manifest.key, &mut |chunk: &[u8]| {
            if broken.is_none()
                && let Err(e) = read.write_all(chunk)
            {
                broken = Some(e);
            }
        })
        .await?;
    if !found {
        return Ok(There::Nothing);
    }
    let (sha256, bytes, decoding) = read.finish();
    if (sha256.as_str(), bytes) == (manifest.sha256.as_str(), manifest.bytes) {
        return Ok(There::Same { sha256, bytes });
    }
    // Not a file this codec reads: not this batch.
    let Some(lines) = broken.map_or_else(|| decoding.finish().ok(), |_| None) else {
        return Ok(There::Other { sha256 });
    };
    let segment = job.info.clone();
    let (stream, instance, envelope) = (job.stream.clone(), job.instance.clone(), job.envelope);
    let ours =
        tokio::task::spawn_blocking(move || lines_sha256(&segment, &stream, &instance, envelope))
            .await
            .unwrap_or_else(|e| Err(io::Error::other(e)))
            .map_err(|e| {
                io_error(
                    "read the spool segment again to compare it with the object under its key",
                    e,
                )
            })?;
    Ok(if lines == ours {
        There::Same { sha256, bytes }
    } else {
        There::Other { sha256 }
    })
}

/// Decompresses what is written into a hash of the lines.
enum Decoding {
    Zstd(Box<zstd::stream::write::Decoder<'static, Digesting<io::Sink>>>),
    Gzip(Box<flate2::write::MultiGzDecoder<Digesting<io::Sink>>>),
}

impl Decoding {
    fn new(compression: Compression) -> io::Result<Self> {
        let lines = Digesting::new(io::sink());
        Ok(match compression {
            Compression::Zstd { .. } => {
                Decoding::Zstd(Box::new(zstd::stream::write::Decoder::new(lines)?))
            }
            Compression::Gzip { .. } => {
                Decoding::Gzip(Box::new(flate2::write::MultiGzDecoder::new(lines)))
            }
        })
    }

    /// The SHA-256 (hex) and length of the decompressed lines.
    fn finish(self) -> io::Result<(String, u64)> {
        let lines = match self {
            Decoding::Zstd(mut d) => {
                d.flush()?;
                d.into_inner()
            }
            Decoding::Gzip(d) => d.finish()?,
        };
        let (sha256, len, _) = lines.finish();
        Ok((sha256, len))
    }
}

impl Write for Decoding {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Decoding::Zstd(d) => d.write(buf),
            Decoding::Gzip(d) => d.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Decoding::Zstd(d) => d.flush(),
            Decoding::Gzip(d) => d.flush(),
        }
    }
}

/// Whether two manifests describe one batch (the encode time and, after a re-encode, the
/// compressed bytes may differ).
fn same_batch(a: &Manifest, b: &Manifest) -> bool {
    (
        &a.key,
        &a.stream,
        &a.instance,
        a.records,
        a.first_seq,
        a.last_seq,
    ) == (
        &b.key,
        &b.stream,
        &b.instance,
        b.records,
        b.first_seq,
        b.last_seq,
    ) && a.uncompressed_bytes == b.uncompressed_bytes
}

/// The key a batch that found `key` taken lands under: the instance id followed by
/// `.x{digits of sha256}`; `None` when no more digits are left.
pub(super) fn collision_key(key: &str, sha256: &str, digits: usize) -> Option<String> {
    let tag = sha256.get(..digits)?;
    let mut parsed = LandedKey::parse(key).ok()?;
    parsed.instance = format!("{}.x{tag}", parsed.instance);
    Some(parsed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collision_keys_keep_the_key_form() {
        let key = "raw/customers/dt=2026-11-24/hh=13/ss-1-00000000000000000042.ndjson.zst";
        let own = collision_key(key, "0123456789abcdef", 8).unwrap();
        assert_eq!(
            own,
            "raw/customers/dt=2026-11-24/hh=13/ss-1.x01234567-00000000000000000042.ndjson.zst"
        );
        assert_eq!(LandedKey::parse(&own).unwrap().first_seq, 42);
        assert_eq!(collision_key(key, "0123", 8), None);
    }

    /// The hash of the lines a compressed file holds, whatever the compression level.
    fn lines_of(compression: Compression, file: &[u8]) -> io::Result<(String, u64)> {
        let mut d = Decoding::new(compression)?;
        d.write_all(file)?;
        d.finish()
    }

    #[test]
    fn lines_hash_through_the_compression() {
        let lines = b"{\"a\":1}\n{\"b\":2}\n".repeat(1000);
        let fast = zstd::encode_all(&lines[..], 1).unwrap();
        let small = zstd::encode_all(&lines[..], 19).unwrap();
        assert_ne!(fast, small);
        let zstd = Compression::Zstd { level: 3 };
        let want = lines_of(zstd, &fast).unwrap();
        assert_eq!(want.1, lines.len() as u64);
        assert_eq!(lines_of(zstd, &small).unwrap(), want);
        let other = zstd::encode_all(&lines[..lines.len() - 1], 1).unwrap();
        assert_ne!(lines_of(zstd, &other).unwrap(), want);
        assert!(lines_of(zstd, b"not zstd").is_err());
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        gz.write_all(&lines).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(lines_of(Compression::Gzip { level: 6 }, &gz).unwrap(), want);
    }
}
