//! The S3 API over HTTPS: with a PEM certificate and key it speaks TLS (and only TLS), so
//! signed requests and object bodies do not cross the network in the clear.

use crate::support::s3::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_s3_api_serves_https_with_a_pem_certificate() {
    let certs = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert_pem = cert.cert.pem();
    let (cert_path, key_path) = (certs.path().join("cert.pem"), certs.path().join("key.pem"));
    std::fs::write(&cert_path, &cert_pem).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let t = start(|s| s.s3.tls = Some((cert_path, key_path))).await;
    let port = t.s3_addr.port();

    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
        .no_proxy()
        .build()
        .unwrap();
    // An unsigned ListBuckets over TLS reaches the S3 API and is refused by it, in S3's XML.
    let r = client
        .get(format!("https://localhost:{port}/"))
        .send()
        .await
        .expect("a TLS handshake with the S3 API");
    assert_eq!(r.status(), 403);
    let body = r.text().await.unwrap();
    assert!(body.contains("<Error>"), "{body}");

    // Plain HTTP on the TLS port does not get an S3 answer.
    let plain = reqwest::Client::builder().no_proxy().build().unwrap();
    let answered = plain
        .get(format!("http://127.0.0.1:{port}/"))
        .send()
        .await
        .map(|r| r.status().as_u16());
    assert!(
        !matches!(answered, Ok(403) | Ok(200)),
        "plain HTTP got an S3 answer: {answered:?}"
    );
}
