//! The client's side of key-pair authentication: RS256 JWTs signed with the user's private
//! key (claims as in [`crate::identity`]), each valid for [`TOKEN_LIFETIME`] and reused until
//! [`RENEW_BEFORE`] its expiry.

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::KeyPair as _;

use crate::identity::{Claims, KeyError, decode_pem, jwt_account, jwt_subject};
use crate::public_key_fingerprint;

/// How long a signed token is valid (Snowflake accepts at most one hour).
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(59 * 60);
/// A cached token is replaced once it has less than this left.
pub const RENEW_BEFORE: Duration = Duration::from_secs(5 * 60);

/// A token could not be signed.
#[derive(Debug, thiserror::Error)]
#[error("cannot sign the Snowpipe JWT: {0}")]
pub struct SignError(String);

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
    pub fn from_pem_file(account: &str, user: &str, path: &Path) -> Result<Self, KeyError> {
        let pem = std::fs::read(path).map_err(|e| KeyError::PrivateKey {
            path: path.display().to_string(),
            reason: format!("cannot read the file: {e}"),
        })?;
        Self::from_pem(account, user, &pem).map_err(|e| match e {
            KeyError::PrivateKey { reason, .. } => KeyError::PrivateKey {
                path: path.display().to_string(),
                reason,
            },
            other => other,
        })
    }

    /// Same as [`JwtSigner::from_pem_file`] for PEM text in memory.
    pub fn from_pem(account: &str, user: &str, pem: &[u8]) -> Result<Self, KeyError> {
        let bad = |reason: String| KeyError::PrivateKey {
            path: "(in memory)".into(),
            reason,
        };
        if jwt_account(account).is_empty() || user.trim().is_empty() {
            return Err(KeyError::Identity(
                "the Snowpipe account and user must not be empty",
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
    pub fn token(&self) -> Result<String, SignError> {
        self.token_at(SystemTime::now())
    }

    /// [`JwtSigner::token`] as if the clock showed `now`.
    pub fn token_at(&self, now: SystemTime) -> Result<String, SignError> {
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
            iss: self.issuer.clone(),
            sub: self.subject.clone(),
            iat: Some(iat),
            exp,
        };
        let token = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
            &claims,
            &self.key,
        )
        .map_err(|e| SignError(e.to_string()))?;
        *cached = Some((token.clone(), UNIX_EPOCH + Duration::from_secs(exp)));
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
