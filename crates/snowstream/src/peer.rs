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

/// The HTTPS configuration: the server's chain and key, the ALPN protocol ids offered, and,
/// with `client_ca`, client certificates asked for and verified by rustls'
/// `WebPkiClientVerifier`: required, or (`required` false, ListenHTTP's WANT) optional.
pub(crate) fn tls_config(
    cert: &Path,
    key: &Path,
    alpn: Vec<Vec<u8>>,
    client_ca: Option<&Path>,
    required: bool,
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
            let mut verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider);
            if !required {
                verifier = verifier.allow_unauthenticated();
            }
            let verifier = verifier
                .build()
                .context("building the client certificate verifier")?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .context("TLS certificate and key do not fit together")?;
    config.alpn_protocols = alpn;
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

/// A name as NiFi writes it for its *Authorized Subject DN Pattern*: RFC 1779 with spaces,
/// the last RDN first, `, ` between RDNs, ` + ` inside one, the RFC 1779 keywords plus UID
/// and DC, else `OID.` and the dotted OID; a value with special characters quoted.
/// NiFi 2.x: StandardPrincipalFormatter.java (rel/nifi-2.11.0) lines 31-34 and 73-74,
/// `principal.getName(X500Principal.RFC1779, OBJECT_IDENTIFIER_NAMES)`; NiFi 1.28.1:
/// ListenHTTPServlet.java line 225, `cert.getSubjectDN().getName()`, the same form.
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
                        other => return format!("OID.{other}={}", value_of(atv)),
                    };
                    format!("{key}={}", value_of(atv))
                })
                .collect::<Vec<_>>()
                .join(" + ")
        })
        .collect();
    rdns.into_iter().rev().collect::<Vec<_>>().join(", ")
}

fn value_of(atv: &x509_parser::x509::AttributeTypeAndValue<'_>) -> String {
    atv.as_str()
        .map(quote)
        .unwrap_or_else(|_| format!("#{}", hex_of(atv.attr_value().data)))
}

/// RFC 1779 quoting, as Java's: a value with a special character, or a leading or trailing
/// space, goes in double quotes (with `"` and `\` escaped inside).
fn quote(v: &str) -> String {
    let special = v.is_empty()
        || v.starts_with(' ')
        || v.ends_with(' ')
        || v.contains([',', '+', '=', '<', '>', '#', ';', '"', '\\', '\n']);
    if !special {
        return v.to_owned();
    }
    let mut out = String::from("\"");
    for c in v.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
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
        assert_eq!(c.subject, "CN=nifi-1, O=\"Example, Inc\", C=US");
        assert_eq!(c.issuer, c.subject);
    }
}
