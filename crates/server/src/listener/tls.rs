//! The TLS side of a listener: the rustls server configuration from PEM files, with the ALPN
//! protocols it offers and, with a client CA bundle, client certificates asked for and
//! verified (as ListenHTTP with an SSL Context Service whose client authentication is
//! *Required*, or *Want*).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// What a listener serves HTTPS with.
#[derive(Debug, Clone)]
pub struct TlsOptions {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key of `cert`.
    pub key: PathBuf,
    /// The ALPN protocol ids offered, most preferred first (e.g. `h2`, `http/1.1`).
    pub alpn: Vec<Vec<u8>>,
    /// A PEM CA bundle: client certificates are asked for and verified against it.
    pub client_ca: Option<PathBuf>,
    /// With `client_ca`: a client without a certificate gets no connection (else it may go
    /// on without one, ListenHTTP's WANT).
    pub client_cert_required: bool,
}

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("reading TLS certificate {}", path.display())]
    Cert {
        path: PathBuf,
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    #[error("reading TLS key {}", path.display())]
    Key {
        path: PathBuf,
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    #[error("reading the client CA bundle {}", path.display())]
    ClientCa {
        path: PathBuf,
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    #[error("the client CA bundle {} holds no certificate", path.display())]
    NoClientCa { path: PathBuf },
    #[error("a CA certificate in {}", path.display())]
    BadClientCa {
        path: PathBuf,
        #[source]
        source: rustls::Error,
    },
    #[error("TLS protocol versions")]
    Versions(#[source] rustls::Error),
    #[error("building the client certificate verifier")]
    Verifier(#[source] rustls::server::VerifierBuilderError),
    #[error("TLS certificate and key do not fit together")]
    KeyMismatch(#[source] rustls::Error),
}

impl TlsOptions {
    /// Reads the files into a rustls server configuration; client certificates, when asked
    /// for, are verified by rustls' `WebPkiClientVerifier`.
    pub fn server_config(&self) -> Result<rustls::ServerConfig, TlsError> {
        let chain = CertificateDer::pem_file_iter(&self.cert)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|source| TlsError::Cert {
                path: self.cert.clone(),
                source,
            })?;
        let key = PrivateKeyDer::from_pem_file(&self.key).map_err(|source| TlsError::Key {
            path: self.key.clone(),
            source,
        })?;
        let provider = rustls::crypto::CryptoProvider::get_default()
            .cloned()
            .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Versions)?;
        let builder = match &self.client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let roots = client_roots(ca)?;
                let mut verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    roots.into(),
                    provider,
                );
                if !self.client_cert_required {
                    verifier = verifier.allow_unauthenticated();
                }
                builder.with_client_cert_verifier(verifier.build().map_err(TlsError::Verifier)?)
            }
        };
        let mut config = builder
            .with_single_cert(chain, key)
            .map_err(TlsError::KeyMismatch)?;
        config.alpn_protocols = self.alpn.clone();
        Ok(config)
    }
}

/// The CA certificates of the PEM bundle at `ca` (at least one).
fn client_roots(ca: &Path) -> Result<rustls::RootCertStore, TlsError> {
    let certs = CertificateDer::pem_file_iter(ca)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|source| TlsError::ClientCa {
            path: ca.to_owned(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoClientCa {
            path: ca.to_owned(),
        });
    }
    let mut roots = rustls::RootCertStore::empty();
    for c in certs {
        roots.add(c).map_err(|source| TlsError::BadClientCa {
            path: ca.to_owned(),
            source,
        })?;
    }
    Ok(roots)
}
