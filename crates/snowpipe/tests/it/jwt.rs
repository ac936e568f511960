//! The Snowflake key-pair JWT, checked with a freshly generated RSA key: the issuer's
//! fingerprint against rcgen's independent encoding of the public key, the signature with
//! jsonwebtoken against that public key, PKCS#1 and PKCS#8 inputs, and renewal.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::AsDer;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use snowpipe::{JwtSigner, RENEW_BEFORE, TOKEN_LIFETIME, TokenError, Verifier};

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// A new 2048-bit RSA key as a PKCS#8 PEM.
pub(crate) fn new_key() -> String {
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair).unwrap();
    pem("PRIVATE KEY", der.as_ref())
}

/// DER element at the start of `b`: (tag, content, rest).
fn der_element(b: &[u8]) -> (u8, &[u8], &[u8]) {
    let tag = b[0];
    let (len, hdr) = if b[1] < 0x80 {
        (b[1] as usize, 2)
    } else {
        let n = (b[1] & 0x7f) as usize;
        let len = b[2..2 + n]
            .iter()
            .fold(0usize, |a, &x| (a << 8) | x as usize);
        (len, 2 + n)
    };
    (tag, &b[hdr..hdr + len], &b[hdr + len..])
}

/// The PKCS#1 RSAPrivateKey inside a PKCS#8 PrivateKeyInfo.
fn pkcs1_of(pkcs8_pem: &str) -> String {
    let body: String = pkcs8_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let der = STANDARD.decode(body).unwrap();
    let (tag, seq, _) = der_element(&der);
    assert_eq!(tag, 0x30);
    let (_, _, rest) = der_element(seq); // version
    let (_, _, rest) = der_element(rest); // algorithm
    let (tag, key, _) = der_element(rest);
    assert_eq!(tag, 0x04);
    pem("RSA PRIVATE KEY", key)
}

#[derive(serde::Deserialize, Debug)]
struct Claims {
    iss: String,
    sub: String,
    iat: u64,
    exp: u64,
}

#[test]
fn issuer_fingerprint_matches_an_independent_computation_and_the_token_verifies() {
    let key_pem = new_key();
    let rc = rcgen::KeyPair::from_pem(&key_pem).unwrap();
    // rcgen's SubjectPublicKeyInfo PEM, decoded: the DER Snowflake fingerprints.
    let spki_b64: String = rc
        .public_key_pem()
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let spki = STANDARD.decode(spki_b64).unwrap();
    let expected_fp = format!("SHA256:{}", STANDARD.encode(Sha256::digest(&spki)));

    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("rsa_key.p8");
    std::fs::write(&key_path, &key_pem).unwrap();
    let signer =
        JwtSigner::from_pem_file("xy12345.eu-central-1.aws", "snowpipe_user", &key_path).unwrap();
    assert_eq!(signer.fingerprint(), expected_fp);
    assert_eq!(signer.subject(), "XY12345.SNOWPIPE_USER");
    assert_eq!(
        signer.issuer(),
        format!("XY12345.SNOWPIPE_USER.{expected_fp}")
    );

    let token = signer.token().unwrap();
    let decoding = jsonwebtoken::DecodingKey::from_rsa_pem(rc.public_key_pem().as_bytes()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_required_spec_claims(&["exp", "iss", "sub"]);
    let data = jsonwebtoken::decode::<Claims>(&token, &decoding, &validation).unwrap();
    assert_eq!(data.claims.iss, signer.issuer());
    assert_eq!(data.claims.sub, "XY12345.SNOWPIPE_USER");
    assert_eq!(data.claims.exp - data.claims.iat, TOKEN_LIFETIME.as_secs());
    assert!(TOKEN_LIFETIME < Duration::from_secs(3600));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(data.claims.iat.abs_diff(now) < 60);

    // A token signed by another key does not verify against this public key.
    let other = JwtSigner::from_pem("xy12345", "snowpipe_user", new_key().as_bytes()).unwrap();
    assert_ne!(other.fingerprint(), signer.fingerprint());
    assert!(
        jsonwebtoken::decode::<Claims>(&other.token().unwrap(), &decoding, &validation).is_err()
    );
}

#[test]
fn pkcs1_and_pkcs8_give_the_same_identity() {
    let p8 = new_key();
    let p1 = pkcs1_of(&p8);
    assert!(p1.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    let a = JwtSigner::from_pem("acct", "user", p8.as_bytes()).unwrap();
    let b = JwtSigner::from_pem("acct", "user", p1.as_bytes()).unwrap();
    assert_eq!(a.issuer(), b.issuer());
    let rc = rcgen::KeyPair::from_pem(&p8).unwrap();
    let decoding = jsonwebtoken::DecodingKey::from_rsa_pem(rc.public_key_pem().as_bytes()).unwrap();
    let validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    jsonwebtoken::decode::<Claims>(&b.token().unwrap(), &decoding, &validation).unwrap();
}

#[test]
fn token_is_reused_then_renewed_before_expiry() {
    let signer = JwtSigner::from_pem("acct", "user", new_key().as_bytes()).unwrap();
    let t0 = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let first = signer.token_at(t0).unwrap();
    // Still valid for longer than RENEW_BEFORE: the same token.
    let later = t0 + TOKEN_LIFETIME - RENEW_BEFORE - Duration::from_secs(1);
    assert_eq!(signer.token_at(later).unwrap(), first);
    // Inside the renewal window: a new token with a later expiry.
    let renew = t0 + TOKEN_LIFETIME - RENEW_BEFORE + Duration::from_secs(1);
    let second = signer.token_at(renew).unwrap();
    assert_ne!(second, first);
    let payload = |t: &str| -> serde_json::Value {
        let part = t.split('.').nth(1).unwrap();
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    };
    let exp1 = payload(&first)["exp"].as_u64().unwrap();
    let exp2 = payload(&second)["exp"].as_u64().unwrap();
    assert_eq!(exp1, 1_800_000_000 + TOKEN_LIFETIME.as_secs());
    assert!(exp2 > exp1);
}

#[test]
fn missing_key_file_is_named() {
    let err = JwtSigner::from_pem_file("a", "u", std::path::Path::new("/nonexistent/key.p8"))
        .unwrap_err();
    assert!(err.to_string().contains("/nonexistent/key.p8"), "{err}");
}

/// The public key PEM of a private key PEM, encoded by rcgen (independently of this crate).
fn public_pem(private_pem: &str) -> String {
    rcgen::KeyPair::from_pem(private_pem)
        .unwrap()
        .public_key_pem()
}

#[test]
fn the_verifier_accepts_the_signers_tokens_and_nothing_else() {
    let key = new_key();
    let signer = JwtSigner::from_pem("xy12345.eu-central-1", "loader", key.as_bytes()).unwrap();
    let verifier =
        Verifier::new(public_pem(&key).as_bytes(), Some("XY12345"), Some("LOADER")).unwrap();
    assert_eq!(verifier.fingerprint(), signer.fingerprint());
    let t0 = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let token = signer.token_at(t0).unwrap();
    assert_eq!(
        verifier.verify(&token, 1_800_000_000).unwrap(),
        "XY12345.LOADER"
    );
    // Expired (beyond the leeway) and not yet issued (beyond the leeway).
    let late = 1_800_000_000 + TOKEN_LIFETIME.as_secs() + 120;
    assert!(matches!(
        verifier.verify(&token, late),
        Err(TokenError::Expired { .. })
    ));
    assert!(matches!(
        verifier.verify(&token, 1_800_000_000 - 120),
        Err(TokenError::IssuedInFuture { .. })
    ));
    // Another user's verifier refuses the subject; another key refuses the signature.
    let other_user =
        Verifier::new(public_pem(&key).as_bytes(), Some("xy12345"), Some("other")).unwrap();
    assert!(matches!(
        other_user.verify(&token, 1_800_000_000),
        Err(TokenError::WrongSubject { .. })
    ));
    let other_key = Verifier::new(public_pem(&new_key()).as_bytes(), None, None).unwrap();
    assert!(matches!(
        other_key.verify(&token, 1_800_000_000),
        Err(TokenError::Malformed(_))
    ));
    assert!(Verifier::new(public_pem(&key).as_bytes(), Some("a"), None).is_err());
    assert!(
        Verifier::new(key.as_bytes(), None, None).is_err(),
        "a private key is refused"
    );
}
