//! The server's side of key-pair authentication, checked as Snowflake does it: RS256 signed
//! by the configured public key, `iss` = `ACCOUNT.USER.SHA256:<fingerprint of that key>`,
//! `sub` = `ACCOUNT.USER` (upper-case, the account without its region suffix), a lifetime of
//! at most one hour.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::identity::{Claims, KeyError, decode_pem, encode_pem, jwt_subject};
use crate::public_key_fingerprint;

/// Longest token lifetime accepted (`exp - iat`), as Snowflake.
const MAX_LIFETIME_SECS: u64 = 3600;
/// Clock skew tolerated on `exp` and `iat`.
const LEEWAY_SECS: u64 = 60;

/// Why a bearer token was refused (for the server's log; the client only learns that the
/// JWT is invalid).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a JWT, another algorithm, or a signature this key did not make.
    #[error("signature or format: {0}")]
    Malformed(String),
    /// `exp` has passed.
    #[error("expired at {exp} (now {now})")]
    Expired {
        /// The token's `exp`.
        exp: u64,
        /// The verifier's clock.
        now: u64,
    },
    /// No `iat` claim.
    #[error("no iat claim")]
    NoIssuedAt,
    /// `iat` is ahead of the verifier's clock.
    #[error("issued in the future ({iat}, now {now})")]
    IssuedInFuture {
        /// The token's `iat`.
        iat: u64,
        /// The verifier's clock.
        now: u64,
    },
    /// `exp - iat` is more than an hour.
    #[error("lifetime {0} s is more than an hour")]
    TooLong(u64),
    /// `iss` does not name the subject and this key's fingerprint.
    #[error(
        "issuer {found:?} is not {expected:?} (subject + fingerprint of the configured public key)"
    )]
    WrongIssuer {
        /// The token's `iss`.
        found: String,
        /// What it should have been.
        expected: String,
    },
    /// `sub` is not `ACCOUNT.USER` in upper case.
    #[error("subject {0:?} is not ACCOUNT.USER in upper case")]
    BadSubject(String),
    /// `sub` names another account or user than the configured one.
    #[error("subject {found:?} is not {expected:?}")]
    WrongSubject {
        /// The token's `sub`.
        found: String,
        /// The configured `ACCOUNT.USER`.
        expected: String,
    },
}

/// Verifies tokens for one user's public key.
pub struct Verifier {
    key: jsonwebtoken::DecodingKey,
    fingerprint: String,
    subject: Option<String>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("fingerprint", &self.fingerprint)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// `public_key`: a `PUBLIC KEY` PEM (`openssl rsa -pubout`), or its bare base64 body as
    /// given to `ALTER USER … SET RSA_PUBLIC_KEY`. With `account` and `user`, the token's
    /// subject must name them; without, any subject whose issuer carries this key's
    /// fingerprint is accepted.
    pub fn new(
        public_key: &[u8],
        account: Option<&str>,
        user: Option<&str>,
    ) -> Result<Self, KeyError> {
        let text = std::str::from_utf8(public_key)
            .map_err(|_| KeyError::PublicKey("the public key file is not text (PEM)".into()))?;
        let spki = if text.contains("-----BEGIN") {
            match decode_pem(public_key) {
                Ok((label, der)) if label == "PUBLIC KEY" => der,
                Ok(_) => {
                    return Err(KeyError::PublicKey(
                        "expected a PEM with -----BEGIN PUBLIC KEY----- (openssl rsa -in rsa_key.p8 -pubout)"
                            .into(),
                    ));
                }
                Err(e) => return Err(KeyError::PublicKey(e)),
            }
        } else {
            let body: String = text.split_whitespace().collect();
            STANDARD
                .decode(body)
                .map_err(|e| KeyError::PublicKey(format!("the key is not base64: {e}")))?
        };
        let key =
            jsonwebtoken::DecodingKey::from_rsa_pem(encode_pem("PUBLIC KEY", &spki).as_bytes())
                .map_err(|e| KeyError::PublicKey(format!("not an RSA public key: {e}")))?;
        let subject = match (account, user) {
            (Some(a), Some(u)) => Some(jwt_subject(a, u)),
            (None, None) => None,
            _ => {
                return Err(KeyError::Identity(
                    "give both the account and the user, or neither",
                ));
            }
        };
        Ok(Verifier {
            key,
            fingerprint: public_key_fingerprint(&spki),
            subject,
        })
    }

    /// `SHA256:…` of the configured key.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Checks a bearer token at `now_secs` (Unix time); the subject it speaks for.
    pub fn verify(&self, token: &str, now_secs: u64) -> Result<String, TokenError> {
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.validate_exp = false;
        validation.validate_aud = false;
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &validation)
            .map_err(|e| TokenError::Malformed(e.to_string()))?;
        let c = data.claims;
        if c.exp + LEEWAY_SECS < now_secs {
            return Err(TokenError::Expired {
                exp: c.exp,
                now: now_secs,
            });
        }
        let iat = c.iat.ok_or(TokenError::NoIssuedAt)?;
        if iat > now_secs + LEEWAY_SECS {
            return Err(TokenError::IssuedInFuture { iat, now: now_secs });
        }
        if c.exp.saturating_sub(iat) > MAX_LIFETIME_SECS {
            return Err(TokenError::TooLong(c.exp.saturating_sub(iat)));
        }
        let expected = format!("{}.{}", c.sub, self.fingerprint);
        if c.iss != expected {
            return Err(TokenError::WrongIssuer {
                found: c.iss,
                expected,
            });
        }
        if c.sub != c.sub.to_ascii_uppercase() || !c.sub.contains('.') {
            return Err(TokenError::BadSubject(c.sub));
        }
        if let Some(s) = &self.subject
            && &c.sub != s
        {
            return Err(TokenError::WrongSubject {
                found: c.sub,
                expected: s.clone(),
            });
        }
        Ok(c.sub)
    }
}
