//! HTTPS offers the HTTP versions of `--http-protocols` in ALPN, as NiFi ListenHTTP's *HTTP
//! Protocols* does (ListenHTTP.java at rel/nifi-1.28.1, lines 196-203: allowable values
//! `HttpProtocolStrategy`, default `HTTP_1_1`, so its connector offers only `http/1.1`
//! unless told otherwise). With the default, a client offering `h2` first (OkHttp, which
//! InvokeHTTP uses, does) is answered in HTTP/1.1, where header names, and the attributes
//! made of them, keep their case. The S3 API's HTTPS offers HTTP/1.1 only, as Amazon S3
//! answers.

use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use crate::support::inprocess::settings;

/// A TLS handshake with the server at `addr` (trusting `root_pem`) offering `offer`: the
/// protocol the server picked (`None`: it picked none), or why the handshake failed.
fn negotiate(addr: SocketAddr, root_pem: &str, offer: &[&[u8]]) -> Result<Option<Vec<u8>>, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(root_pem.as_bytes()).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = offer.iter().map(|p| p.to_vec()).collect();
    let name = "localhost".try_into().unwrap();
    let mut conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let mut sock = TcpStream::connect(addr).unwrap();
    while conn.is_handshaking() {
        conn.complete_io(&mut sock).map_err(|e| e.to_string())?;
    }
    Ok(conn.alpn_protocol().map(<[u8]>::to_vec))
}

/// A self-signed certificate for `localhost` written to `dir`: its PEM, and the certificate
/// and key files.
fn self_signed(dir: &std::path::Path) -> (String, std::path::PathBuf, std::path::PathBuf) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert_pem = cert.cert.pem();
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    std::fs::write(&cert_path, &cert_pem).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    (cert_pem, cert_path, key_path)
}

/// `--http-protocols` (`None`: the default), what the client offers, and the protocol the
/// server picks or the handshake's error.
type Case = (
    Option<&'static str>,
    &'static [&'static [u8]],
    Result<Option<&'static [u8]>, &'static str>,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alpn_offers_what_http_protocols_says() {
    let dir = tempfile::tempdir().unwrap();
    let (cert_pem, cert_path, key_path) = self_signed(dir.path());

    const H1: &[u8] = b"http/1.1";
    const H2: &[u8] = b"h2";
    let cases: [Case; 6] = [
        (None, &[H2, H1], Ok(Some(H1))),
        (None, &[H2], Err("noapplicationprotocol")),
        (Some("H2_HTTP_1_1"), &[H2, H1], Ok(Some(H2))),
        (Some("h2 http/1.1"), &[H1], Ok(Some(H1))),
        (Some("h2"), &[H2, H1], Ok(Some(H2))),
        (Some("h2"), &[H1], Err("noapplicationprotocol")),
    ];
    for (i, (protocols, offer, want)) in cases.into_iter().enumerate() {
        let data = dir.path().join(format!("data-{i}"));
        let mut flags = vec![
            "--tls-cert",
            cert_path.to_str().unwrap(),
            "--tls-key",
            key_path.to_str().unwrap(),
        ];
        if let Some(p) = protocols {
            flags.extend(["--http-protocols", p]);
        }
        let app = snowstream::App::builder(settings(&data, &flags))
            .metrics(None)
            .start()
            .await
            .unwrap();
        let case = format!("--http-protocols {protocols:?}, offering {offer:?}");
        let (addr, root) = (app.addr(), cert_pem.clone());
        let offer: Vec<Vec<u8>> = offer.iter().map(|p| p.to_vec()).collect();
        let got = tokio::task::spawn_blocking(move || {
            let offer: Vec<&[u8]> = offer.iter().map(Vec::as_slice).collect();
            negotiate(addr, &root, &offer)
        })
        .await
        .unwrap();
        match (want, got) {
            (Ok(want), Ok(got)) => assert_eq!(got.as_deref(), want, "{case}"),
            (Err(why), Err(e)) => assert!(e.to_lowercase().contains(why), "{case}: {e}"),
            (want, got) => panic!("{case}: wanted {want:?}, got {got:?}"),
        }
        app.stop().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_s3_api_speaks_http1_as_s3_does() {
    let dir = tempfile::tempdir().unwrap();
    let (cert_pem, cert_path, key_path) = self_signed(dir.path());
    let flags = [
        "--s3-listen",
        "127.0.0.1:0",
        "--s3-credentials",
        "AKID:secret",
        "--s3-api-tls-cert",
        cert_path.to_str().unwrap(),
        "--s3-api-tls-key",
        key_path.to_str().unwrap(),
    ];
    let app = snowstream::App::builder(settings(&dir.path().join("data"), &flags))
        .metrics(None)
        .start()
        .await
        .unwrap();
    let addr = app.s3_addr().unwrap();
    let picked = tokio::task::spawn_blocking(move || {
        [
            negotiate(addr, &cert_pem, &[b"h2", b"http/1.1"]),
            negotiate(addr, &cert_pem, &[b"h2"]),
        ]
    })
    .await
    .unwrap();
    assert_eq!(picked[0], Ok(Some(b"http/1.1".to_vec())));
    let refused = picked[1].as_ref().unwrap_err();
    assert!(
        refused.to_lowercase().contains("noapplicationprotocol"),
        "{refused}"
    );
    app.stop().await.unwrap();
}
