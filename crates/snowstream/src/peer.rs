//! The TLS side of who is calling: the rustls server configuration (with client
//! certificates required and verified against a CA bundle when `--tls-client-ca` is set, as
//! ListenHTTP with an SSL Context Service whose client authentication is *Required*), and the
//! verified client certificate handed to the handlers as a [`server::ClientCert`].

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use axum_server::tls::TlsInfo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use x509_parser::prelude::{FromDer, X509Certificate, X509Name};

/// The HTTPS configuration: the server's chain and key, and, with `client_ca`, client
/// certificates required and verified by rustls' `WebPkiClientVerifier`.
pub(crate) fn tls_config(
    cert: &Path,
    key: &Path,
    client_ca: Option<&Path>,
) -> Result<axum_server::tls_rustls::RustlsConfig> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("reading TLS certificate {}", cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("reading TLS key {}", key.display()))?;
    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            let certs = CertificateDer::pem_file_iter(ca)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .with_context(|| format!("reading --tls-client-ca {}", ca.display()))?;
            anyhow::ensure!(
                !certs.is_empty(),
                "--tls-client-ca {} holds no certificate",
                ca.display()
            );
            for c in certs {
                roots
                    .add(c)
                    .with_context(|| format!("a CA certificate in {}", ca.display()))?;
            }
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .build()
                    .context("building the client certificate verifier")?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .context("TLS certificate and key do not fit together")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(axum_server::tls_rustls::RustlsConfig::from_config(
        Arc::new(config),
    ))
}

/// Middleware: the client certificate the handshake verified (axum-server's [`TlsInfo`]),
/// as a [`server::ClientCert`] extension the handlers authorize and record.
pub(crate) async fn client_cert(mut req: Request, next: Next) -> Response {
    let cert = req
        .extensions()
        .get::<Arc<TlsInfo>>()
        .and_then(|info| info.peer_certificates.first())
        .and_then(|der| describe(der));
    if let Some(cert) = cert {
        req.extensions_mut().insert(cert);
    }
    next.run(req).await
}

/// Subject and issuer of a DER certificate.
fn describe(der: &[u8]) -> Option<server::ClientCert> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    Some(server::ClientCert {
        subject: rfc4514(cert.subject()),
        issuer: rfc4514(cert.issuer()),
    })
}

/// A name as Java's `X500Principal.getName()` writes it (RFC 2253/4514): the last RDN
/// first, `,` between RDNs, `+` inside one, the standard keywords (CN, O, …) else the
/// dotted OID. NiFi's ListenHTTPServlet matches its *Authorized Subject DN Pattern* against
/// this form (`StandardPrincipalFormatter.getSubject`).
fn rfc4514(name: &X509Name<'_>) -> String {
    let rdns: Vec<String> = name
        .iter_rdn()
        .map(|rdn| {
            rdn.iter()
                .map(|atv| {
                    let oid = atv.attr_type().to_id_string();
                    let key = match oid.as_str() {
                        "2.5.4.3" => "CN",
                        "2.5.4.6" => "C",
                        "2.5.4.7" => "L",
                        "2.5.4.8" => "ST",
                        "2.5.4.10" => "O",
                        "2.5.4.11" => "OU",
                        "2.5.4.9" => "STREET",
                        "0.9.2342.19200300.100.1.25" => "DC",
                        "0.9.2342.19200300.100.1.1" => "UID",
                        other => other,
                    }
                    .to_owned();
                    let value = atv
                        .as_str()
                        .map(escape)
                        .unwrap_or_else(|_| format!("#{}", hex_of(atv.attr_value().data)));
                    format!("{key}={value}")
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    rdns.into_iter().rev().collect::<Vec<_>>().join(",")
}

/// RFC 4514 §2.4 escaping of an attribute value.
fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let last = v.chars().count().saturating_sub(1);
    for (i, c) in v.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == '#' || c == ' '))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dn_is_written_as_java_does() {
        let mut params = rcgen::CertificateParams::new(vec!["nifi".into()]).unwrap();
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CountryName, "US");
        dn.push(rcgen::DnType::OrganizationName, "Example, Inc");
        dn.push(rcgen::DnType::CommonName, "nifi-1");
        params.distinguished_name = dn;
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let c = describe(cert.der()).unwrap();
        assert_eq!(c.subject, "CN=nifi-1,O=Example\\, Inc,C=US");
        assert_eq!(c.issuer, c.subject);
    }
}
