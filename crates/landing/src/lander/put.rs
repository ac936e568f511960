//! Putting one encoded batch and its manifest to the sink, create-only.
//!
//! A batch's key is unique by construction (instance id, sequence number, hour), and the sink
//! never replaces an object (`sink::put_once`). What an object already under the key means:
//! - **the same batch**, landed before a crash or a lost answer and landed again now from the
//!   spool: its records are the same (bytes are compared, then the decompressed lines, so a
//!   re-encode by another version of the compressor is still recognised): success;
//! - **another batch** (two instances sharing one id, a sequence number reused): a collision.
//!   Neither side may be lost, so this batch lands under a key of its own: the same key with
//!   the instance id followed by `.x` and the first hex digits of the file's SHA-256 (the
//!   same digits on every attempt, so a re-land after a crash finds its own file there), the
//!   metric `snowstream_sink_collisions_total` counts it and an ERROR names both keys.

use std::io::{self, Read};

use bytes::Bytes;
use records::landed::{LandedKey, Manifest, manifest_key};
use sha2::{Digest, Sha256};

use crate::config::Compression;
use crate::metric_names::SINK_COLLISIONS_TOTAL;
use crate::sink::{self, Once, Sink, SinkError};

/// Puts the batch `body` under `manifest.key` (or a collision key, written back into
/// `manifest`) and then its manifest. Safe to call again after an error.
pub(super) async fn put_batch(
    sink: &dyn Sink,
    compression: Compression,
    manifest: &mut Manifest,
    body: &Bytes,
) -> Result<(), SinkError> {
    let mut digits = 8;
    loop {
        // What is there, when it is the same batch in other bytes: the manifest describes it.
        let mut stored = None;
        let same = |there: &[u8]| {
            let equal = same_lines(compression, there, body);
            if equal {
                stored = Some((hex::encode(Sha256::digest(there)), there.len() as u64));
            }
            equal
        };
        match sink::put_once(sink, &manifest.key, body.clone(), same).await? {
            Once::Created => break,
            Once::Same => {
                if let Some((sha256, bytes)) = stored {
                    manifest.sha256 = sha256;
                    manifest.bytes = bytes;
                }
                tracing::info!(stream = %manifest.stream, key = %manifest.key,
                    "the batch was in the sink already (landed before a restart): not put again");
                break;
            }
            Once::Collision(there) => {
                let taken = manifest.key.clone();
                let Some(own) = collision_key(&taken, &manifest.sha256, digits) else {
                    return Err(SinkError::InvalidKey {
                        key: taken,
                        reason: "collides with another object, and so does every key derived from it",
                    });
                };
                metrics::counter!(SINK_COLLISIONS_TOTAL, "stream" => manifest.stream.clone())
                    .increment(1);
                tracing::error!(stream = %manifest.stream, key = %taken, landed_as = %own,
                    existing_sha256 = %hex::encode(Sha256::digest(&there)), sha256 = %manifest.sha256,
                    "another batch is already stored under this batch's key (two instances with one \
                     instance id, or a sequence number used twice); it was left as it is and this \
                     batch lands under its own key");
                manifest.key = own;
                digits *= 2;
            }
        }
    }
    let json = Bytes::from(serde_json::to_vec_pretty(&*manifest).expect("manifest serializes"));
    let key = manifest_key(&manifest.key);
    let ours = &*manifest;
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
    Ok(())
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

/// Whether two compressed files hold the same lines.
fn same_lines(compression: Compression, a: &[u8], b: &[u8]) -> bool {
    match (decode(compression, a), decode(compression, b)) {
        (Ok(a), Ok(b)) => same_stream(a, b).unwrap_or(false),
        _ => false,
    }
}

fn decode(compression: Compression, bytes: &[u8]) -> io::Result<Box<dyn Read + '_>> {
    Ok(match compression {
        Compression::Zstd { .. } => Box::new(zstd::stream::read::Decoder::new(bytes)?),
        Compression::Gzip { .. } => Box::new(flate2::read::MultiGzDecoder::new(bytes)),
    })
}

/// Whether two readers yield the same bytes (read in blocks, never whole).
fn same_stream(mut a: impl Read, mut b: impl Read) -> io::Result<bool> {
    let (mut x, mut y) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    loop {
        let n = read_full(&mut a, &mut x)?;
        let m = read_full(&mut b, &mut y)?;
        if x[..n] != y[..m] {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true);
        }
    }
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
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

    #[test]
    fn lines_compare_through_the_compression() {
        let lines = b"{\"a\":1}\n{\"b\":2}\n".repeat(1000);
        let fast = zstd::encode_all(&lines[..], 1).unwrap();
        let small = zstd::encode_all(&lines[..], 19).unwrap();
        assert_ne!(fast, small);
        let zstd = Compression::Zstd { level: 3 };
        assert!(same_lines(zstd, &fast, &small));
        let other = zstd::encode_all(&lines[..lines.len() - 1], 1).unwrap();
        assert!(!same_lines(zstd, &fast, &other));
        assert!(!same_lines(zstd, &fast, b"not zstd"));
    }
}
