//! Reading an object body and checking every digest the client declared: `Content-MD5` and
//! `x-amz-checksum-{crc32,crc32c,crc64nvme,sha1,sha256}`, as headers or aws-chunked trailers.
//! s3s checks signatures (and the hex SHA-256 of a plain body) but not these.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use crc_fast::CrcAlgorithm;
use futures::StreamExt;
use md5::{Digest as _, Md5};
// sha1 and sha2 are RustCrypto 0.11, md-5 0.10 (its x86 assembly): two `Digest` traits.
use s3s::dto::StreamingBlob;
use s3s::{S3Error, S3Result, s3_error};
use sha2::Digest as _;

/// Checksums the client declared for one body, as base64 strings.
#[derive(Debug, Default)]
pub(crate) struct Declared {
    pub content_md5: Option<String>,
    /// (algorithm, base64 value), e.g. ("crc32", "AAAAAA==").
    pub checksums: Vec<(String, String)>,
}

impl Declared {
    /// Adds the `x-amz-checksum-*` entries of a header map (request headers or trailers).
    pub fn add_headers(&mut self, headers: &http::HeaderMap) {
        for (name, value) in headers {
            if let Some(algo) = name.as_str().strip_prefix("x-amz-checksum-")
                && !matches!(algo, "type" | "algorithm" | "mode")
                && let Ok(v) = value.to_str()
                && !self.checksums.iter().any(|(a, _)| a == algo)
            {
                self.checksums.push((algo.to_owned(), v.trim().to_owned()));
            }
        }
    }
}

/// Reads the whole body, refusing more than `max` bytes.
pub(crate) async fn read_body(body: Option<StreamingBlob>, max: u64) -> S3Result<Vec<u8>> {
    let Some(mut body) = body else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| body_error(&e))?;
        if (out.len() + chunk.len()) as u64 > max {
            return Err(too_large(max));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// The answer to a body over `max` bytes.
pub(crate) fn too_large(max: u64) -> S3Error {
    s3_error!(
        EntityTooLarge,
        "object is over the {max}-byte limit of snowstream's S3 front door"
    )
}

/// The S3 error for a body stream that failed. s3s reports bad chunk signatures and bad
/// payload hashes as stream errors.
pub(crate) fn body_error(e: &dyn std::fmt::Display) -> S3Error {
    let msg = e.to_string();
    if msg.contains(super::BODY_STALLED) {
        s3_error!(RequestTimeout, "{msg}; nothing of the request was kept")
    } else if msg.to_ascii_lowercase().contains("signature") {
        s3_error!(SignatureDoesNotMatch, "request body: {msg}")
    } else if msg.to_ascii_lowercase().contains("checksum")
        || msg.to_ascii_lowercase().contains("sha256")
    {
        s3_error!(BadDigest, "request body: {msg}")
    } else {
        s3_error!(IncompleteBody, "could not read the request body: {msg}")
    }
}

/// The digests of a body computed as it streams by: always MD5, plus the checksum
/// algorithms the client announced (in headers or `x-amz-trailer`).
pub(crate) struct Hashers {
    md5: Md5,
    others: Vec<(String, Hasher)>,
}

enum Hasher {
    Crc32(crc32fast::Hasher),
    Crc32c(u32),
    Crc64(crc_fast::Digest),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

impl Hasher {
    fn new(algo: &str) -> Option<Hasher> {
        Some(match algo {
            "crc32" => Hasher::Crc32(crc32fast::Hasher::new()),
            "crc32c" => Hasher::Crc32c(0),
            "crc64nvme" => Hasher::Crc64(crc_fast::Digest::new(CrcAlgorithm::Crc64Nvme)),
            "sha1" => Hasher::Sha1(sha1::Sha1::new()),
            "sha256" => Hasher::Sha256(sha2::Sha256::new()),
            _ => return None,
        })
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Crc32(h) => h.update(data),
            Hasher::Crc32c(c) => *c = crc32c::crc32c_append(*c, data),
            Hasher::Crc64(h) => h.update(data),
            Hasher::Sha1(h) => h.update(data),
            Hasher::Sha256(h) => h.update(data),
        }
    }

    fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Crc32(h) => h.finalize().to_be_bytes().to_vec(),
            Hasher::Crc32c(c) => c.to_be_bytes().to_vec(),
            Hasher::Crc64(h) => h.finalize().to_be_bytes().to_vec(),
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
        }
    }
}

/// The checksum algorithms a request announces before its body: `x-amz-checksum-*` headers
/// and the `x-amz-trailer` list.
pub(crate) fn announced_algorithms(headers: &http::HeaderMap) -> Vec<String> {
    let mut d = Declared::default();
    d.add_headers(headers);
    let mut algos: Vec<String> = d.checksums.into_iter().map(|(a, _)| a).collect();
    for a in announced_trailers(headers) {
        if !algos.contains(&a) {
            algos.push(a);
        }
    }
    algos
}

/// What a request declares about the `size` bytes its body decoded to, checked before any
/// digest is: the aws-chunked decoded length matches, and every announced trailer was sent.
/// Gives the declared digests (Content-MD5, checksum headers, then trailers once read).
pub(crate) fn check_declared(
    headers: &http::HeaderMap,
    content_md5: Option<String>,
    trailers: Option<&s3s::TrailingHeaders>,
    size: u64,
) -> S3Result<Declared> {
    // An aws-chunked body declares its decoded length. s3s compares it with what the chunks
    // decoded to only when that is not empty, so a body cut short to its final 0-size chunk
    // would otherwise be taken as an empty object (found by crates/server/fuzz, aws_chunked).
    if let Some(declared) = headers
        .get("x-amz-decoded-content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        && declared != size
    {
        return Err(s3_error!(
            IncompleteBody,
            "x-amz-decoded-content-length says {declared} bytes, the aws-chunked body decoded to {size}"
        ));
    }
    let mut declared = Declared {
        content_md5,
        ..Declared::default()
    };
    declared.add_headers(headers);
    if let Some(t) = trailers {
        t.read(|h| declared.add_headers(h));
    }
    for a in announced_trailers(headers) {
        if !declared.checksums.iter().any(|(d, _)| *d == a) {
            return Err(s3_error!(
                BadDigest,
                "the request announced an x-amz-checksum-{a} trailer but did not send it"
            ));
        }
    }
    Ok(declared)
}

/// The `x-amz-checksum-*` trailers the `x-amz-trailer` header announces.
pub(crate) fn announced_trailers(headers: &http::HeaderMap) -> Vec<String> {
    headers
        .get_all("x-amz-trailer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|v| {
            v.trim()
                .to_ascii_lowercase()
                .strip_prefix("x-amz-checksum-")
                .map(str::to_owned)
        })
        .collect()
}

/// The digests of a streamed body: its MD5 and `(algorithm, base64 value)` of each other.
pub(crate) struct Computed {
    pub md5: [u8; 16],
    pub checksums: Vec<(String, String)>,
}

impl Hashers {
    /// MD5 plus `algos` (unknown ones are skipped; [`Computed::verify`] refuses them).
    pub fn new(algos: &[String]) -> Hashers {
        Hashers {
            md5: Md5::new(),
            others: algos
                .iter()
                .filter_map(|a| Hasher::new(a).map(|h| (a.clone(), h)))
                .collect(),
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        self.md5.update(data);
        for (_, h) in &mut self.others {
            h.update(data);
        }
    }

    pub fn finish(self) -> Computed {
        Computed {
            md5: self.md5.finalize().into(),
            checksums: self
                .others
                .into_iter()
                .map(|(a, h)| (a, B64.encode(h.finish())))
                .collect(),
        }
    }
}

impl Computed {
    /// Checks every declared digest; an algorithm that was not computed as the body streamed
    /// by (a trailer nobody announced) is computed by `reread`, which hashes the body again.
    pub fn verify(
        &self,
        declared: &Declared,
        reread: &mut dyn FnMut(&str) -> std::io::Result<Option<String>>,
    ) -> S3Result<()> {
        check_md5(declared, &self.md5)?;
        for (algo, given) in &declared.checksums {
            let computed = match self.checksums.iter().find(|(a, _)| a == algo) {
                Some((_, c)) => Some(c.clone()),
                None => reread(algo).map_err(|e| s3_error!(InternalError, "{e}"))?,
            };
            check_one(algo, given, computed)?;
        }
        Ok(())
    }
}

/// Hashes `reader` with `algo`, base64; None when the algorithm is not supported.
pub(crate) fn hash_reader(
    algo: &str,
    reader: &mut dyn std::io::Read,
) -> std::io::Result<Option<String>> {
    let Some(mut h) = Hasher::new(algo) else {
        return Ok(None);
    };
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(Some(B64.encode(h.finish())))
}

fn check_md5(declared: &Declared, md5: &[u8; 16]) -> S3Result<()> {
    if let Some(given) = &declared.content_md5 {
        let given = B64
            .decode(given.trim())
            .map_err(|_| s3_error!(InvalidDigest, "Content-MD5 {given:?} is not base64"))?;
        if given != md5 {
            return Err(s3_error!(
                BadDigest,
                "Content-MD5 does not match the body received (got {}, computed {})",
                hex::encode(&given),
                hex::encode(md5)
            ));
        }
    }
    Ok(())
}

fn check_one(algo: &str, given: &str, computed: Option<String>) -> S3Result<()> {
    let computed = computed.ok_or_else(|| {
        s3_error!(
            InvalidRequest,
            "checksum algorithm {algo:?} is not supported (use crc32, crc32c, crc64nvme, sha1 or sha256)"
        )
    })?;
    if computed != given {
        return Err(s3_error!(
            BadDigest,
            "x-amz-checksum-{algo} {given} does not match the body received ({computed})"
        ));
    }
    Ok(())
}

/// Checks every declared digest against `body`; returns its MD5.
pub(crate) fn verify(body: &[u8], declared: &Declared) -> S3Result<[u8; 16]> {
    let md5: [u8; 16] = Md5::digest(body).into();
    check_md5(declared, &md5)?;
    for (algo, given) in &declared.checksums {
        check_one(algo, given, compute(algo, body).map(|c| B64.encode(c)))?;
    }
    Ok(md5)
}

fn compute(algo: &str, body: &[u8]) -> Option<Vec<u8>> {
    Some(match algo {
        "crc32" => crc32fast::hash(body).to_be_bytes().to_vec(),
        "crc32c" => crc32c::crc32c(body).to_be_bytes().to_vec(),
        "crc64nvme" => crc64nvme(body).to_be_bytes().to_vec(),
        "sha1" => sha1::Sha1::digest(body).to_vec(),
        "sha256" => sha2::Sha256::digest(body).to_vec(),
        _ => return None,
    })
}

/// CRC-64/NVME (reflected polynomial 0x9a6c9329ac4bc9b5, init and xorout all ones), by
/// crc-fast, the implementation the AWS SDK itself uses.
fn crc64nvme(data: &[u8]) -> u64 {
    crc_fast::checksum(CrcAlgorithm::Crc64Nvme, data)
}

/// `"<hex md5>"` as S3 returns it.
pub(crate) fn etag_hex(md5: &[u8]) -> String {
    hex::encode(md5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc64nvme_check_value() {
        assert_eq!(crc64nvme(b"123456789"), 0xae8b_1486_0a79_9888);
    }

    #[test]
    fn verify_accepts_matching_and_rejects_wrong_digests() {
        let body = b"id,name\n1,Ada\n";
        let mut d = Declared {
            content_md5: Some(B64.encode(Md5::digest(body))),
            ..Declared::default()
        };
        for algo in ["crc32", "crc32c", "crc64nvme", "sha1", "sha256"] {
            d.checksums
                .push((algo.into(), B64.encode(compute(algo, body).unwrap())));
        }
        assert_eq!(
            verify(body, &d).unwrap(),
            <[u8; 16]>::from(Md5::digest(body))
        );
        for i in 0..d.checksums.len() {
            let mut bad = Declared {
                checksums: d.checksums.clone(),
                ..Declared::default()
            };
            bad.checksums[i].1 = B64.encode(compute(&bad.checksums[i].0, b"x").unwrap());
            let e = verify(body, &bad).unwrap_err();
            assert_eq!(*e.code(), s3s::S3ErrorCode::BadDigest);
        }
        let bad_md5 = Declared {
            content_md5: Some(B64.encode(Md5::digest(b"other"))),
            ..Declared::default()
        };
        assert_eq!(
            *verify(body, &bad_md5).unwrap_err().code(),
            s3s::S3ErrorCode::BadDigest
        );
    }

    #[test]
    fn streamed_digests_match_whole_ones() {
        let body: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let algos: Vec<String> = ["crc32", "crc32c", "crc64nvme", "sha1", "sha256"]
            .map(String::from)
            .to_vec();
        let mut h = Hashers::new(&algos);
        for piece in body.chunks(777) {
            h.update(piece);
        }
        let c = h.finish();
        assert_eq!(c.md5, <[u8; 16]>::from(Md5::digest(&body)));
        for (algo, value) in &c.checksums {
            assert_eq!(*value, B64.encode(compute(algo, &body).unwrap()), "{algo}");
            let again = hash_reader(algo, &mut &body[..]).unwrap().unwrap();
            assert_eq!(again, *value, "{algo}");
        }
        assert_eq!(c.checksums.len(), 5);
    }
}
