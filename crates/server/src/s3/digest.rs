//! Reading an object body and checking every digest the client declared: `Content-MD5` and
//! `x-amz-checksum-{crc32,crc32c,crc64nvme,sha1,sha256}`, as headers or aws-chunked trailers.
//! s3s checks signatures (and the hex SHA-256 of a plain body) but not these.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use futures::StreamExt;
use md5::{Digest as _, Md5};
use s3s::dto::StreamingBlob;
use s3s::{S3Result, s3_error};

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
        let chunk = chunk.map_err(|e| {
            // s3s reports bad chunk signatures and bad payload hashes as stream errors.
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
        })?;
        if (out.len() + chunk.len()) as u64 > max {
            return Err(s3_error!(
                EntityTooLarge,
                "object is over the {max}-byte limit of snowstream's S3 front door"
            ));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Checks every declared digest against `body`; returns its MD5.
pub(crate) fn verify(body: &[u8], declared: &Declared) -> S3Result<[u8; 16]> {
    let md5: [u8; 16] = Md5::digest(body).into();
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
    for (algo, given) in &declared.checksums {
        let computed = compute(algo, body).ok_or_else(|| {
            s3_error!(
                InvalidRequest,
                "checksum algorithm {algo:?} is not supported (use crc32, crc32c, crc64nvme, sha1 or sha256)"
            )
        })?;
        let computed = B64.encode(computed);
        if &computed != given {
            return Err(s3_error!(
                BadDigest,
                "x-amz-checksum-{algo} {given} does not match the body received ({computed})"
            ));
        }
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

/// CRC-64/NVME (reflected polynomial 0x9a6c9329ac4bc9b5, init and xorout all ones).
fn crc64nvme(data: &[u8]) -> u64 {
    static TABLE: std::sync::OnceLock<[u64; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u64; 256];
        for (i, slot) in t.iter_mut().enumerate() {
            let mut c = i as u64;
            for _ in 0..8 {
                c = if c & 1 == 1 {
                    (c >> 1) ^ 0x9a6c_9329_ac4b_c9b5
                } else {
                    c >> 1
                };
            }
            *slot = c;
        }
        t
    });
    let mut crc = !0u64;
    for &b in data {
        crc = table[((crc ^ u64::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
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
}
