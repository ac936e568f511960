//! Who a key-pair JWT speaks for, as Snowflake's key-pair authentication documents it, and
//! the claims both the signer and the verifier use:
//!
//! - `sub` = `ACCOUNT.USER` (upper-cased; the account's region/cloud suffix after the first
//!   `.` dropped, so `xy12345.eu-central-1` becomes `XY12345`),
//! - `iss` = `ACCOUNT.USER.SHA256:<base64 of SHA-256 of the public key's DER
//!   SubjectPublicKeyInfo>` (the value `DESC USER` shows as `RSA_PUBLIC_KEY_FP`),
//! - `iat`/`exp`: issued and expiry times in Unix seconds, at most an hour apart.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Why a key (or the identity it is for) cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The private key file cannot be read or is not an unencrypted RSA key.
    #[error("Snowpipe private key {path}: {reason}")]
    PrivateKey {
        /// The key file, or `(in memory)`.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The public key is not an RSA `PUBLIC KEY` PEM or its base64 body.
    #[error("public key: {0}")]
    PublicKey(String),
    /// The account or user is missing.
    #[error("{0}")]
    Identity(&'static str),
}

/// The account part of a JWT subject: upper-cased, anything after the first `.` dropped.
pub fn jwt_account(account: &str) -> String {
    account
        .trim()
        .split('.')
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase()
}

/// The JWT subject `ACCOUNT.USER` for an account identifier and a user name.
pub fn jwt_subject(account: &str, user: &str) -> String {
    format!(
        "{}.{}",
        jwt_account(account),
        user.trim().to_ascii_uppercase()
    )
}

/// `SHA256:<base64 of SHA-256 of the DER SubjectPublicKeyInfo>`.
pub fn public_key_fingerprint(spki_der: &[u8]) -> String {
    format!("SHA256:{}", STANDARD.encode(Sha256::digest(spki_der)))
}

/// The claims of a Snowflake key-pair JWT.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Claims {
    pub iss: String,
    pub sub: String,
    /// Required by Snowflake; optional here so its absence gets a clear refusal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    pub exp: u64,
}

/// Decodes the first PEM block: (label, DER bytes).
pub(crate) fn decode_pem(pem: &[u8]) -> Result<(String, Vec<u8>), String> {
    let text = std::str::from_utf8(pem).map_err(|_| "the key file is not PEM text".to_owned())?;
    let start = text
        .find("-----BEGIN ")
        .ok_or_else(|| "no -----BEGIN line: the key file is not PEM".to_owned())?;
    let rest = &text[start + "-----BEGIN ".len()..];
    let label_end = rest
        .find("-----")
        .ok_or_else(|| "malformed -----BEGIN line".to_owned())?;
    let label = rest[..label_end].to_owned();
    let body = &rest[label_end + 5..];
    let end_marker = format!("-----END {label}-----");
    let end = body
        .find(&end_marker)
        .ok_or_else(|| format!("no {end_marker} line"))?;
    let b64: String = body[..end]
        .lines()
        .filter(|l| !l.contains(':'))
        .flat_map(|l| l.chars())
        .filter(|c| !c.is_whitespace())
        .collect();
    let der = STANDARD
        .decode(b64)
        .map_err(|e| format!("the PEM body is not base64: {e}"))?;
    Ok((label, der))
}

/// DER bytes as a PEM block with 64-character lines.
pub(crate) fn encode_pem(label: &str, der: &[u8]) -> String {
    let mut pem = format!("-----BEGIN {label}-----\n");
    for chunk in STANDARD.encode(der).as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_and_user_are_normalised() {
        assert_eq!(jwt_account("xy12345.eu-central-1.aws"), "XY12345");
        assert_eq!(jwt_account("myorg-myacct"), "MYORG-MYACCT");
        assert_eq!(jwt_subject("ab123.us-east-2", "loader"), "AB123.LOADER");
    }

    #[test]
    fn pem_blocks_round_trip() {
        let der: Vec<u8> = (0..=200).collect();
        let pem = encode_pem("PUBLIC KEY", &der);
        assert!(pem.lines().all(|l| l.len() <= 64));
        assert_eq!(
            decode_pem(pem.as_bytes()).unwrap(),
            ("PUBLIC KEY".into(), der)
        );
        assert!(decode_pem(b"-----BEGIN X-----\nAAAA\n").is_err());
    }
}
