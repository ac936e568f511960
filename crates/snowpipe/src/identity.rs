//! Who a key-pair JWT speaks for, as Snowflake's key-pair authentication documents it, and
//! the claims both the signer and the verifier use:
//!
//! - `sub` = `ACCOUNT.USER`, upper-cased, the account as [`jwt_account`] writes it,
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

/// The account part of a JWT subject, upper-cased, as Snowflake's key-pair authentication
/// page says ("Generate a JWT token"; the same rule in "Authenticating to the server" of the
/// SQL API): an account locator loses its region and cloud (`xy12345.us-east-2.aws` is
/// `XY12345`), an organization account name has its period replaced with a hyphen
/// (`myorg.myaccount` is `MYORG-MYACCOUNT`: a period in it makes the JWT invalid, error
/// 390144), and a `.global` account is cut at its first hyphen, as Snowflake's own JWT
/// sample (`sql-api-generate-jwt.py`) does.
pub fn jwt_account(account: &str) -> String {
    let account = account.trim();
    let account = account
        .strip_suffix(".snowflakecomputing.com")
        .unwrap_or(account);
    let upper = |s: &str| s.to_ascii_uppercase();
    if account.contains(".global") {
        return upper(account.split(['-', '.']).next().unwrap_or_default());
    }
    let Some((head, rest)) = account.split_once('.') else {
        return upper(account);
    };
    if is_region(rest) {
        upper(head)
    } else {
        upper(&format!("{head}-{}", rest.replace('.', "-")))
    }
}

/// The host of an account's URL: an account locator keeps its region and cloud
/// (`xy12345.eu-central-1.snowflakecomputing.com`), an organization account name has its
/// period replaced with a hyphen (`myorg-myaccount.snowflakecomputing.com`), lowercase.
pub fn account_host(account: &str) -> String {
    let account = account.trim().to_ascii_lowercase();
    let account = account
        .strip_suffix(".snowflakecomputing.com")
        .unwrap_or(&account);
    let name = match account.split_once('.') {
        Some((head, rest)) if !is_region(rest) && !rest.contains("global") => {
            format!("{head}-{}", rest.replace('.', "-"))
        }
        _ => account.to_owned(),
    };
    format!("{name}.snowflakecomputing.com")
}

/// Whether the part after an account locator's first `.` is a region, optionally with its
/// cloud: `us-east-2`, `us-east-2.aws`, `east-us-2.azure`, `us-central1.gcp` (the forms of
/// "Using an account locator as an identifier" in Snowflake's account identifier page).
fn is_region(rest: &str) -> bool {
    const CLOUDS: &[&str] = &["aws", "azure", "gcp"];
    // First words of the region ids of AWS, Azure and Google Cloud.
    const AREAS: &[&str] = &[
        "us",
        "eu",
        "ap",
        "ca",
        "sa",
        "me",
        "af",
        "il",
        "mx",
        "uk",
        "east",
        "west",
        "north",
        "south",
        "central",
        "southeast",
        "northeast",
        "switzerland",
        "uae",
        "australia",
        "japan",
        "germany",
        "france",
        "norway",
        "sweden",
        "qatar",
        "korea",
        "india",
        "brazil",
        "canada",
        "poland",
        "italy",
        "spain",
        "asia",
        "europe",
    ];
    let lower = rest.to_ascii_lowercase();
    let mut parts = lower.split('.');
    let region = parts.next().unwrap_or_default();
    let cloud = parts.next();
    if parts.next().is_some() || cloud.is_some_and(|c| !CLOUDS.contains(&c)) {
        return false;
    }
    let area = region.split('-').next().unwrap_or_default();
    region.ends_with(|c: char| c.is_ascii_digit()) && AREAS.contains(&area)
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
        assert_eq!(jwt_account("xy12345.us-east-2"), "XY12345");
        assert_eq!(jwt_account("xy12345.east-us-2.azure"), "XY12345");
        assert_eq!(jwt_account("xy12345.us-central1.gcp"), "XY12345");
        assert_eq!(jwt_account("myorg-myacct"), "MYORG-MYACCT");
        // The organization format with a period: a hyphen, never cut (a permanent 401 before).
        assert_eq!(jwt_account("myorg.myaccount"), "MYORG-MYACCOUNT");
        assert_eq!(jwt_account("acme.prod_eu"), "ACME-PROD_EU");
        assert_eq!(
            jwt_account("myorg-myaccount.snowflakecomputing.com"),
            "MYORG-MYACCOUNT"
        );
        assert_eq!(jwt_account("xy12345-myorg.global"), "XY12345");
        // An account name that only looks a little like a region is still an account name.
        assert_eq!(jwt_account("myorg.prod-eu2"), "MYORG-PROD-EU2");
        assert_eq!(
            account_host("XY12345.eu-central-1"),
            "xy12345.eu-central-1.snowflakecomputing.com"
        );
        assert_eq!(
            account_host("myorg.myaccount"),
            "myorg-myaccount.snowflakecomputing.com"
        );
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
