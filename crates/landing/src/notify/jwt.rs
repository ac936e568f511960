//! Snowflake key-pair authentication: an RS256 JWT whose issuer names the fingerprint of the
//! user's public key, as Snowflake's key-pair authentication documents it.
//!
//! - `sub` = `ACCOUNT.USER` (upper-cased; the account's region/cloud suffix after the first
//!   `.` dropped, so `xy12345.eu-central-1` becomes `XY12345`),
//! - `iss` = `ACCOUNT.USER.SHA256:<base64 of SHA-256 of the public key's DER
//!   SubjectPublicKeyInfo>` (the value `DESC USER` shows as `RSA_PUBLIC_KEY_FP`),
//! - `iat`/`exp`: a lifetime of [`TOKEN_LIFETIME`] (Snowflake refuses more than an hour); a
//!   token is reused until [`RENEW_BEFORE`] its expiry, then signed anew.

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::NotifyError;

/// How long a signed token is valid (Snowflake accepts at most one hour).
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(59 * 60);
/// A cached token is replaced once it has less than this left.
pub const RENEW_BEFORE: Duration = Duration::from_secs(5 * 60);

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

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    iat: u64,
    exp: u64,
}

/// Signs Snowflake key-pair JWTs for one user, caching the current token.
pub struct JwtSigner {
    issuer: String,
    subject: String,
    fingerprint: String,
    key: jsonwebtoken::EncodingKey,
    cached: Mutex<Option<(String, SystemTime)>>,
}

impl std::fmt::Debug for JwtSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtSigner")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl JwtSigner {
    /// Reads an RSA private key PEM file (PKCS#8 `PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`,
    /// unencrypted).
    pub fn from_pem_file(account: &str, user: &str, path: &Path) -> Result<Self, NotifyError> {
        let pem = std::fs::read(path).map_err(|e| NotifyError::Key {
            path: path.display().to_string(),
            reason: format!("cannot read the file: {e}"),
        })?;
        Self::from_pem(account, user, &pem).map_err(|e| match e {
            NotifyError::Key { reason, .. } => NotifyError::Key {
                path: path.display().to_string(),
                reason,
            },
            other => other,
        })
    }

    /// Same as [`JwtSigner::from_pem_file`] for PEM text in memory.
    pub fn from_pem(account: &str, user: &str, pem: &[u8]) -> Result<Self, NotifyError> {
        let bad = |reason: String| NotifyError::Key {
            path: "(in memory)".into(),
            reason,
        };
        if jwt_account(account).is_empty() || user.trim().is_empty() {
            return Err(NotifyError::Config(
                "the Snowpipe account and user must not be empty".into(),
            ));
        }
        let (label, der) = decode_pem(pem).map_err(bad)?;
        let pair = match label.as_str() {
            "PRIVATE KEY" => aws_lc_rs::rsa::KeyPair::from_pkcs8(&der),
            "RSA PRIVATE KEY" => aws_lc_rs::rsa::KeyPair::from_der(&der),
            "ENCRYPTED PRIVATE KEY" => {
                return Err(bad(
                    "the key is encrypted; decrypt it first (openssl pkcs8 -in KEY -out KEY.plain)"
                        .into(),
                ));
            }
            other => {
                return Err(bad(format!(
                    "expected an RSA private key PEM (PRIVATE KEY or RSA PRIVATE KEY), found {other:?}"
                )));
            }
        }
        .map_err(|e| bad(format!("not a usable RSA private key: {e}")))?;
        let spki = pair
            .public_key()
            .as_der()
            .map_err(|_| bad("cannot encode the public key".into()))?;
        let fingerprint = public_key_fingerprint(spki.as_ref());
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(pem)
            .map_err(|e| bad(format!("not a usable RSA private key: {e}")))?;
        let subject = jwt_subject(account, user);
        Ok(JwtSigner {
            issuer: format!("{subject}.{fingerprint}"),
            subject,
            fingerprint,
            key,
            cached: Mutex::new(None),
        })
    }

    /// `ACCOUNT.USER.SHA256:…`
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// `ACCOUNT.USER`
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// `SHA256:…` of the public key (compare with `DESC USER … RSA_PUBLIC_KEY_FP`).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// A valid token: the cached one while it has more than [`RENEW_BEFORE`] left, else a
    /// new one.
    pub fn token(&self) -> Result<String, NotifyError> {
        self.token_at(SystemTime::now())
    }

    /// [`JwtSigner::token`] as if the clock showed `now`.
    pub fn token_at(&self, now: SystemTime) -> Result<String, NotifyError> {
        let mut cached = self.cached.lock().expect("lock");
        if let Some((token, exp)) = cached.as_ref()
            && exp
                .duration_since(now)
                .is_ok_and(|left| left > RENEW_BEFORE)
        {
            return Ok(token.clone());
        }
        let iat = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let exp = iat + TOKEN_LIFETIME.as_secs();
        let claims = Claims {
            iss: &self.issuer,
            sub: &self.subject,
            iat,
            exp,
        };
        let token = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
            &claims,
            &self.key,
        )
        .map_err(|e| NotifyError::Config(format!("cannot sign the Snowpipe JWT: {e}")))?;
        *cached = Some((token.clone(), UNIX_EPOCH + Duration::from_secs(exp)));
        Ok(token)
    }
}

/// Decodes the first PEM block: (label, DER bytes).
fn decode_pem(pem: &[u8]) -> Result<(String, Vec<u8>), String> {
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
    fn pem_errors_are_readable() {
        let err = JwtSigner::from_pem("acct", "u", b"hello").unwrap_err();
        assert!(err.to_string().contains("not PEM"), "{err}");
        let pem = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let err = JwtSigner::from_pem("acct", "u", pem).unwrap_err();
        assert!(err.to_string().contains("CERTIFICATE"), "{err}");
        let pem =
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
        let err = JwtSigner::from_pem("acct", "u", pem).unwrap_err();
        assert!(err.to_string().contains("encrypted"), "{err}");
        let pem = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        let err = JwtSigner::from_pem("acct", "u", pem).unwrap_err();
        assert!(err.to_string().contains("RSA private key"), "{err}");
    }
}
