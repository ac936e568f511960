//! Key-pair JWT verification as Snowflake does it: RS256 signed by the configured public key,
//! `iss` = `ACCOUNT.USER.SHA256:<fingerprint of that key>`, `sub` = `ACCOUNT.USER`
//! (upper-case, the account without its region suffix), a lifetime of at most one hour.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

/// Longest token lifetime accepted (`exp - iat`), as Snowflake.
const MAX_LIFETIME_SECS: u64 = 3600;
/// Clock skew tolerated on `exp` and `iat`.
const LEEWAY_SECS: u64 = 60;

/// Why a configured public key cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("public key: {0}")]
pub struct KeyError(pub String);

/// The account part of a JWT subject (the same rule the notifier signs with).
pub use landing::notify::jwt_account;

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

#[derive(serde::Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    iat: Option<u64>,
    exp: u64,
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
            .map_err(|_| KeyError("the public key file is not text (PEM)".into()))?;
        let body: String = if text.contains("-----BEGIN") {
            if !text.contains("-----BEGIN PUBLIC KEY-----") {
                return Err(KeyError(
                    "expected a PEM with -----BEGIN PUBLIC KEY----- (openssl rsa -in rsa_key.p8 -pubout)"
                        .into(),
                ));
            }
            text.lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<String>()
        } else {
            text.split_whitespace().collect()
        };
        let spki = STANDARD
            .decode(body.trim())
            .map_err(|e| KeyError(format!("the key is not base64: {e}")))?;
        let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
        for chunk in STANDARD.encode(&spki).as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
            pem.push('\n');
        }
        pem.push_str("-----END PUBLIC KEY-----\n");
        let key = jsonwebtoken::DecodingKey::from_rsa_pem(pem.as_bytes())
            .map_err(|e| KeyError(format!("not an RSA public key: {e}")))?;
        let subject = match (account, user) {
            (Some(a), Some(u)) => Some(format!(
                "{}.{}",
                jwt_account(a),
                u.trim().to_ascii_uppercase()
            )),
            (None, None) => None,
            _ => {
                return Err(KeyError(
                    "give both the account and the user, or neither".into(),
                ));
            }
        };
        Ok(Verifier {
            key,
            fingerprint: format!("SHA256:{}", STANDARD.encode(Sha256::digest(&spki))),
            subject,
        })
    }

    /// `SHA256:…` of the configured key.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Checks a bearer token; `Ok(subject)` or why it was refused (for the log, not the client).
    pub fn verify(&self, token: &str, now_secs: u64) -> Result<String, String> {
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.validate_exp = false;
        validation.validate_aud = false;
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &validation)
            .map_err(|e| format!("signature or format: {e}"))?;
        let c = data.claims;
        if c.exp + LEEWAY_SECS < now_secs {
            return Err(format!("expired at {} (now {now_secs})", c.exp));
        }
        let iat = c.iat.ok_or("no iat claim")?;
        if iat > now_secs + LEEWAY_SECS {
            return Err(format!("issued in the future ({iat}, now {now_secs})"));
        }
        if c.exp.saturating_sub(iat) > MAX_LIFETIME_SECS {
            return Err(format!(
                "lifetime {} s is more than an hour",
                c.exp.saturating_sub(iat)
            ));
        }
        let expected_iss = format!("{}.{}", c.sub, self.fingerprint);
        if c.iss != expected_iss {
            return Err(format!(
                "issuer {:?} is not {expected_iss:?} (subject + fingerprint of the configured public key)",
                c.iss
            ));
        }
        if c.sub != c.sub.to_ascii_uppercase() || !c.sub.contains('.') {
            return Err(format!(
                "subject {:?} is not ACCOUNT.USER in upper case",
                c.sub
            ));
        }
        if let Some(s) = &self.subject
            && &c.sub != s
        {
            return Err(format!("subject {:?} is not {s:?}", c.sub));
        }
        Ok(c.sub)
    }
}
