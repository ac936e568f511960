//! What both aws-chunked targets share: the fuzz input turned into a signed PutObject request.
//!
//! First input byte: bit 0 picks the payload mode (0: `STREAMING-UNSIGNED-PAYLOAD-TRAILER`,
//! 1: `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`, with chunk signatures); bit 1 picks the framing:
//! 0 frames the rest of the input correctly (second byte: chunk size, 1 to 256), 1 sends the
//! rest as the raw body (second and third bytes: `x-amz-decoded-content-length`, u16 LE).

use sha2::{Digest, Sha256};

pub const AK: &str = "AKFUZZ";
pub const SK: &str = "fuzz-secret-key";
pub const REGION: &str = "us-east-1";
pub const BUCKET: &str = "fuzzed";

/// One PutObject built from a fuzz input.
pub struct Case {
    /// The request, signed with `AK`/`SK`.
    pub req: http::Request<s3s::Body>,
    /// The object's bytes when the body frames them correctly; `None` for a raw body.
    pub framed: Option<Vec<u8>>,
    /// What `x-amz-decoded-content-length` declares.
    pub decoded_len: usize,
}

/// The request for `input` to `/BUCKET/key`, or `None` when the input is too short.
pub fn case(input: &[u8], key: &str) -> Option<Case> {
    let (&control, rest) = input.split_first()?;
    let signed = control & 1 == 1;
    let raw = control & 2 == 2;
    let (decoded_len, framed_data, rest) = if raw {
        if rest.len() < 2 {
            return None;
        }
        (
            u16::from_le_bytes([rest[0], rest[1]]) as usize,
            None,
            &rest[2..],
        )
    } else {
        let (&size, data) = rest.split_first()?;
        (data.len(), Some((size as usize + 1, data)), data)
    };
    let path = format!("/{BUCKET}/{key}");
    let amz_date = chrono_now();
    let payload_hash = if signed {
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
    } else {
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    };
    let mut headers = vec![
        ("host", "localhost".to_owned()),
        ("x-amz-date", amz_date.clone()),
        ("x-amz-content-sha256", payload_hash.to_owned()),
        ("content-encoding", "aws-chunked".to_owned()),
        ("x-amz-decoded-content-length", decoded_len.to_string()),
    ];
    if !signed {
        headers.push(("x-amz-trailer", "x-amz-checksum-crc32".to_owned()));
    }
    let (auth, signing_key, seed) = sign(&path, &headers, payload_hash, &amz_date);
    let scope = format!("{}/{REGION}/s3/aws4_request", &amz_date[..8]);
    let body = match framed_data {
        Some((size, data)) => frame(
            data,
            size,
            signed.then(|| (&signing_key, seed, amz_date.as_str(), scope.as_str())),
        ),
        None => rest.to_vec(),
    };
    let mut req = http::Request::builder()
        .method("PUT")
        .uri(&path)
        .header("authorization", auth)
        .header("content-length", body.len());
    for (k, v) in &headers {
        req = req.header(*k, v);
    }
    Some(Case {
        req: req.body(s3s::Body::from(body)).expect("request"),
        framed: framed_data.map(|(_, d)| d.to_vec()),
        decoded_len,
    })
}

fn hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(msg);
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

fn sha_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// SigV4 of the request's headers; returns the Authorization value and the signing key.
fn sign(
    path: &str,
    headers: &[(&str, String)],
    payload_hash: &str,
    amz_date: &str,
) -> (String, [u8; 32], String) {
    let date = &amz_date[..8];
    let scope = format!("{date}/{REGION}/s3/aws4_request");
    let mut hs: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    hs.sort();
    let canonical_headers: String = hs.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed: Vec<&str> = hs.iter().map(|(k, _)| k.as_str()).collect();
    let signed = signed.join(";");
    let canonical = format!("PUT\n{path}\n\n{canonical_headers}\n{signed}\n{payload_hash}");
    let sts = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        sha_hex(canonical.as_bytes())
    );
    let mut key = hmac(format!("AWS4{SK}").as_bytes(), date.as_bytes());
    for part in [REGION, "s3", "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    let sig = hex::encode(hmac(&key, sts.as_bytes()));
    (
        format!(
            "AWS4-HMAC-SHA256 Credential={AK}/{scope}, SignedHeaders={signed}, Signature={sig}"
        ),
        key,
        sig,
    )
}

/// `data` framed in chunks of `size`, with chunk signatures when `signing` is given
/// (key, seed signature, date, scope).
fn frame(data: &[u8], size: usize, signing: Option<(&[u8; 32], String, &str, &str)>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut prev = signing.as_ref().map(|s| s.1.clone());
    let empty = sha_hex(b"");
    let chunks: Vec<&[u8]> = data.chunks(size).collect();
    for chunk in chunks.into_iter().chain(std::iter::once(&[][..])) {
        out.extend_from_slice(format!("{:x}", chunk.len()).as_bytes());
        if let (Some((key, _, amz_date, scope)), Some(p)) = (&signing, &prev) {
            let sts = format!(
                "AWS4-HMAC-SHA256-PAYLOAD\n{amz_date}\n{scope}\n{p}\n{empty}\n{}",
                sha_hex(chunk)
            );
            let sig = hex::encode(hmac(*key, sts.as_bytes()));
            out.extend_from_slice(format!(";chunk-signature={sig}").as_bytes());
            prev = Some(sig);
        }
        out.extend_from_slice(b"\r\n");
        if chunk.is_empty() && signing.is_none() {
            // The unsigned payload's trailer: the checksum `x-amz-trailer` names.
            use base64::Engine as _;
            let crc = crc32fast::hash(data).to_be_bytes();
            let b64 = base64::engine::general_purpose::STANDARD.encode(crc);
            out.extend_from_slice(format!("x-amz-checksum-crc32:{b64}\r\n").as_bytes());
        } else {
            out.extend_from_slice(chunk);
        }
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Now as SigV4's `YYYYMMDDTHHMMSSZ`.
fn chrono_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
