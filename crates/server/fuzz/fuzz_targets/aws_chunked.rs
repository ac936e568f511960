//! PutObject bodies framed as aws-chunked through the real S3 front door (s3s's aws-chunked
//! decoder, then our PutObject), in-process: never a panic, and a 2xx stored exactly the
//! decoded bytes.
//!
//! First input byte: bit 0 picks the payload mode (0: `STREAMING-UNSIGNED-PAYLOAD-TRAILER`,
//! 1: `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`, with chunk signatures); bit 1 picks the framing:
//! 0 frames the rest of the input correctly (second byte: chunk size, 1 to 256), 1 sends the
//! rest as the raw body (second and third bytes: `x-amz-decoded-content-length`, u16 LE).
//! The stream is pass-through, so a stored object is a file in the local sink whose bytes
//! the target compares with what was framed.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

const AK: &str = "AKFUZZ";
const SK: &str = "fuzz-secret-key";
const REGION: &str = "us-east-1";
const BUCKET: &str = "fuzzed";

struct Front {
    rt: tokio::runtime::Runtime,
    service: s3s::service::S3Service,
    landed: PathBuf,
    _dir: tempfile::TempDir,
}

/// The S3 service over a pass-through stream landing into a local folder, built once.
fn front() -> &'static Front {
    static FRONT: OnceLock<Front> = OnceLock::new();
    FRONT.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let landed = dir.path().join("landing");
        let service = rt.block_on(async {
            let sink = Arc::new(landing::sink::LocalSink::new(&landed).expect("sink"));
            let config = landing::LandingConfig {
                spool_dir: dir.path().join("spool"),
                instance: "fuzz".into(),
                spool_max_bytes: 64 << 20,
                streams: vec![landing::StreamConfig::new("files")],
            };
            let landing = Arc::new(landing::Landing::start(config, sink).expect("landing"));
            let mut s3 = server::s3::S3Config::new(dir.path().join("uploads"));
            s3.credentials = vec![server::s3::S3Credential::parse(&format!("{AK}:{SK}")).unwrap()];
            s3.routes = vec![server::s3::BucketRoute::parse(&format!("{BUCKET}=files")).unwrap()];
            let mut shared = server::ServerConfig::default();
            shared.streams.insert(
                "files".into(),
                server::StreamOptions {
                    pass_through: true,
                    ..Default::default()
                },
            );
            server::s3::service(landing, s3, shared).expect("S3 service")
        });
        Front {
            rt,
            service,
            landed,
            _dir: dir,
        }
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

fn find(dir: &Path, name: &str) -> Option<PathBuf> {
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        if p.is_dir() {
            if let Some(f) = find(&p, name) {
                return Some(f);
            }
        } else if p.file_name().is_some_and(|n| n == name) {
            return Some(p);
        }
    }
    None
}

static N: AtomicU64 = AtomicU64::new(0);

fuzz_target!(|input: &[u8]| {
    let Some((&control, rest)) = input.split_first() else {
        return;
    };
    let signed = control & 1 == 1;
    let raw = control & 2 == 2;
    let (decoded_len, framed_data, rest) = if raw {
        if rest.len() < 2 {
            return;
        }
        (
            u16::from_le_bytes([rest[0], rest[1]]) as usize,
            None,
            &rest[2..],
        )
    } else {
        let Some((&size, data)) = rest.split_first() else {
            return;
        };
        (data.len(), Some((size as usize + 1, data)), data)
    };
    let f = front();
    let key = format!("obj-{}.bin", N.fetch_add(1, Ordering::Relaxed));
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
    let req = req.body(s3s::Body::from(body)).expect("request");
    let resp = f.rt.block_on(f.service.call(req));
    let Ok(resp) = resp else { return };
    let ok = resp.status().is_success();
    if framed_data.is_some_and(|(_, data)| !data.is_empty()) {
        // A correct framing of correctly signed chunks must be taken (an empty object may be
        // refused: the front door answers 400 to it).
        assert!(
            ok,
            "well-formed aws-chunked body refused: {} {:?}",
            resp.status(),
            resp.body().bytes()
        );
    }
    if ok {
        let stored = find(&f.landed, &key).expect("a 2xx object is in the sink");
        let got = std::fs::read(&stored).expect("read stored");
        let want = match framed_data {
            Some((_, data)) => data.to_vec(),
            None => got.clone(),
        };
        assert_eq!(got, want, "stored bytes differ from the decoded body");
        assert_eq!(
            got.len(),
            decoded_len,
            "stored {:?}: its length differs from the declared one",
            got
        );
        let _ = std::fs::remove_file(stored);
    }
});

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
