//! Throwaway RSA key pairs for tests of Snowflake's key-pair authentication.

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// A freshly generated 2048-bit RSA key pair.
pub struct RsaKey {
    /// The private key as a PKCS#8 PEM (`PRIVATE KEY`).
    pub private_pem: String,
    /// The public key as an SPKI PEM (`PUBLIC KEY`).
    pub public_pem: String,
    /// The public key's SPKI DER bytes (what a Snowflake fingerprint hashes).
    pub public_der: Vec<u8>,
}

/// Generates a new 2048-bit RSA key pair.
pub fn rsa_key() -> RsaKey {
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
        .expect("generate an RSA key");
    let p8 = AsDer::<Pkcs8V1Der>::as_der(&pair).expect("PKCS#8 encoding");
    let spki = AsDer::<PublicKeyX509Der>::as_der(pair.public_key()).expect("SPKI encoding");
    RsaKey {
        private_pem: pem("PRIVATE KEY", p8.as_ref()),
        public_pem: pem("PUBLIC KEY", spki.as_ref()),
        public_der: spki.as_ref().to_vec(),
    }
}

/// DER bytes as a PEM block with 64-character base64 lines.
pub fn pem(label: &str, der: &[u8]) -> String {
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in STANDARD.encode(der).as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out + &format!("-----END {label}-----\n")
}
