//! The parts a CompleteMultipartUpload lists: checked against the stored ones, opened and
//! read, and the answers that name them (the multipart ETag, a retry listing other parts).

use std::fs::File;
use std::io::Read as _;

use md5::{Digest as _, Md5};
use s3s::dto::*;
use s3s::{S3Error, S3Result, s3_error};

use super::super::uploads::StoredPart;

pub(super) fn strip_etag(e: &ETag) -> String {
    e.value().trim_matches('"').to_ascii_lowercase()
}

/// The answer to a completed upload of `bucket`/`key` with the object's `etag`.
pub(super) fn completed(
    bucket: String,
    key: String,
    etag: String,
) -> CompleteMultipartUploadOutput {
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
pub(super) fn choose_parts(
    requested: &[CompletedPart],
    stored: &[StoredPart],
) -> S3Result<Vec<StoredPart>> {
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

/// The multipart ETag: the MD5 of the parts' MD5s, then `-` and the number of parts.
pub(super) fn multipart_etag(parts: &[StoredPart]) -> String {
    let mut md5s = Md5::new();
    for p in parts {
        md5s.update(hex::decode(&p.md5_hex).unwrap_or_default());
    }
    format!("{}-{}", hex::encode(md5s.finalize()), parts.len())
}

/// Opens every chosen part now: a part re-uploaded while the Complete runs cannot change
/// what it reads.
pub(super) fn open_parts(parts: &[StoredPart]) -> std::io::Result<Vec<File>> {
    parts.iter().map(|p| File::open(&p.path)).collect()
}

/// Reads the parts whole (at most `--max-request-size` bytes, checked by the caller).
pub(super) fn read_whole(files: &mut [File], total: u64) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::with_capacity(total as usize);
    for f in files {
        f.read_to_end(&mut body)?;
    }
    Ok(body)
}

/// The refusal of a retried Complete that lists other parts than the first attempt.
pub(super) fn other_parts(before: &[(i32, String)]) -> S3Error {
    let list: Vec<String> = before.iter().map(|(n, m)| format!("{n}:{m}")).collect();
    s3_error!(
        InvalidPart,
        "an earlier CompleteMultipartUpload of this upload started ingesting parts [{}] \
         (number:ETag); a retry must list the same parts with the same contents",
        list.join(", ")
    )
}
