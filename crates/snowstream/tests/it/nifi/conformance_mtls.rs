//! Mutual TLS as ListenHTTP does it, with PostHTTP's requests over it.
//!
//! ListenHTTP with an SSL Context Service requiring client authentication verifies the
//! client's certificate at the handshake; ListenHTTPServlet.java (rel/nifi-1.28.1) lines
//! 220-238 then read `javax.servlet.request.X509Certificate`, take the subject DN
//! (`getSubjectDN().getName()`; 2.x: StandardPrincipalFormatter, RFC 1779, the same form),
//! match it against *Authorized Subject DN Pattern* with `matches()` and answer
//! `403 "not allowed based on subject dn"` on a mismatch; lines 464-471 put the DN in
//! `restlistener.remote.user.dn`. ContentAcknowledgmentServlet.java lines 71-80 check the DN
//! of the hold DELETE the same way. PostHTTP (1.28.1)
//! presents its keystore's certificate on the HEAD, POST and hold DELETE (see
//! conformance.rs for the request sequence) and sends no Authorization header.

use std::time::Duration;

use crate::support::receiver;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, IsCa, KeyPair,
    KeyUsagePurpose,
};

fn dn(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Example");
    dn.push(DnType::CommonName, cn);
    dn
}

pub(super) fn make_ca(cn: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name = dn(cn);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// A leaf signed by `issuer`: `(cert PEM, key PEM)`.
pub(super) fn leaf(
    issuer: &CertifiedIssuer<'static, KeyPair>,
    cn: &str,
    san: &[&str],
) -> (String, String) {
    let mut params =
        CertificateParams::new(san.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name = dn(cn);
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

fn client(ca_pem: &str, identity: Option<&(String, String)>) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .tls_certs_only([reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap()]);
    if let Some((cert, key)) = identity {
        b = b.identity(reqwest::Identity::from_pem(format!("{key}{cert}").as_bytes()).unwrap());
    }
    b.build().unwrap()
}

/// Starts the app over HTTPS with a server certificate from `ca`, requiring client
/// certificates signed by one of `client_cas`, with the DN patterns anchored as resolve.rs
/// anchors --authorized-dn-pattern and --authorized-issuer-dn-pattern. Returns the app and
/// the ListenHTTP base URL.
pub(super) async fn start_mtls(
    dir: &std::path::Path,
    ca: &CertifiedIssuer<'static, KeyPair>,
    client_cas: &[&CertifiedIssuer<'static, KeyPair>],
    subject: &str,
    issuer: Option<&str>,
    tweak: impl FnOnce(&mut snowstream::Settings),
) -> (snowstream::Running, String) {
    let (server_cert, server_key) = leaf(ca, "snowstream", &["localhost"]);
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let cert_path = write("server.pem", &server_cert);
    let key_path = write("server-key.pem", &server_key);
    let bundle: String = client_cas.iter().map(|c| c.pem()).collect();
    let ca_path = write("client-cas.pem", &bundle);

    let anchored = |p: &str| regex::Regex::new(&format!("^(?:{p})$")).unwrap();
    let mut settings = snowstream::Settings::local(dir, "t1").unwrap();
    settings.tls = Some((cert_path, key_path));
    settings.listener.tls_client_ca = Some(ca_path);
    settings.server.authorized_dn = Some(anchored(subject));
    settings.server.authorized_issuer_dn = issuer.map(anchored);
    tweak(&mut settings);
    let app = snowstream::App::builder(settings)
        .metrics(None)
        .start()
        .await
        .unwrap();
    let base = format!("https://localhost:{}/contentListener", app.addr().port());
    (app, base)
}

/// POSTs `{"id": id}` to `base`, trusting `server_ca`, with a client certificate and a bearer
/// token or not: the status and the body of the answer.
async fn post_id(
    server_ca: &str,
    base: &str,
    identity: Option<(String, String)>,
    token: Option<&str>,
    id: u32,
) -> (u16, String) {
    let mut req = client(server_ca, identity.as_ref())
        .post(base)
        .header("content-type", "application/json")
        .body(format!(r#"{{"id":{id}}}"#));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Flushes the app's open batches, then reads what landed in `dir` and the records' ids.
async fn landed_ids(
    app: &snowstream::Running,
    dir: &std::path::Path,
) -> (Vec<receiver::Landed>, Vec<u64>) {
    tokio::time::timeout(Duration::from_secs(20), app.landing().flush())
        .await
        .unwrap();
    let landed = receiver::read_landed(&dir.join("landing"));
    let ids = landed
        .iter()
        .map(|l| l.record["id"].as_u64().unwrap())
        .collect();
    (landed, ids)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posthttp_over_mutual_tls_with_the_dn_pattern() {
    let dir = tempfile::tempdir().unwrap();
    let ca = make_ca("Test CA");
    let other_ca = make_ca("Other CA");
    let (app, base) = start_mtls(
        dir.path(),
        &ca,
        &[&ca],
        "CN=nifi-.*, O=Example",
        None,
        |_| {},
    )
    .await;

    let nifi = leaf(&ca, "nifi-1", &[]);
    let intruder = leaf(&ca, "intruder", &[]);
    let stranger = leaf(&other_ca, "nifi-2", &[]);
    let ca_pem = ca.pem();

    // PostHTTP with its keystore: HEAD, POST with a hold, DELETE the hold URI.
    let c = client(&ca_pem, Some(&nifi));
    for path in ["", "/customers"] {
        let url = format!("{base}{path}");
        let head = c.head(&url).send().await.unwrap();
        assert_eq!(head.status(), 200);
        assert_eq!(head.headers()["x-nifi-transfer-protocol-version"], "3");
        let id = if path.is_empty() { 1 } else { 2 };
        let posted = c
            .post(&url)
            .header("x-prefer-acknowledge-uri", "true")
            .header("content-type", "application/json")
            .body(format!(r#"{{"id":{id}}}"#))
            .send()
            .await
            .unwrap();
        assert_eq!(posted.status(), 303);
        let location = posted.headers()["location"].to_str().unwrap().to_owned();
        let hold = format!(
            "{url}{}",
            location.strip_prefix("/contentListener").unwrap()
        );
        let deleted = c.delete(&hold).send().await.unwrap();
        assert_eq!(deleted.status(), 200, "DELETE {hold}");
    }

    // A certificate of the right CA whose DN the pattern refuses: 403, as ListenHTTPServlet.
    let c = client(&ca_pem, Some(&intruder));
    let r = c
        .post(&base)
        .header("content-type", "application/json")
        .body(r#"{"id":3}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("not allowed based on subject dn")
    );

    // No certificate, or one another CA signed: the handshake fails; nothing gets in.
    for identity in [None, Some(&stranger)] {
        let r = client(&ca_pem, identity)
            .post(&base)
            .header("content-type", "application/json")
            .body(r#"{"id":4}"#)
            .send()
            .await;
        assert!(r.is_err() || !r.unwrap().status().is_success());
    }

    let (landed, ids) = landed_ids(&app, dir.path()).await;
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids.contains(&1) && ids.contains(&2));
    for l in &landed {
        assert_eq!(
            l.attr("restlistener.remote.user.dn"),
            Some("CN=nifi-1, O=Example")
        );
        assert_eq!(
            l.attr("restlistener.remote.issuer.dn"),
            Some("CN=Test CA, O=Example")
        );
    }
}

/// ListenHTTPServlet.java (rel/nifi-1.28.1) lines 226-233: once the subject DN matched,
/// `authorizedIssuerPattern.matcher(foundIssuer).matches()`, else
/// `403 "not allowed based on issuer dn"`. With two CAs trusted at the handshake, the
/// *Authorized Issuer DN Pattern* decides which of them may sign writers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_issuer_dn_pattern_picks_among_trusted_cas() {
    let dir = tempfile::tempdir().unwrap();
    let ingest_ca = make_ca("Ingest CA");
    let ops_ca = make_ca("Ops CA");
    // Both CAs verify at the handshake; the issuer pattern names one.
    let (app, base) = start_mtls(
        dir.path(),
        &ingest_ca,
        &[&ingest_ca, &ops_ca],
        "CN=nifi-.*, O=Example",
        Some("CN=Ingest CA, O=Example"),
        |_| {},
    )
    .await;
    let server_ca = ingest_ca.pem();
    let post_as = |ca, cn, id| post_id(&server_ca, &base, Some(leaf(ca, cn, &[])), None, id);

    // Right subject, right issuer: accepted.
    let (status, _) = post_as(&ingest_ca, "nifi-1", 1).await;
    assert_eq!(status, 200);
    // Right subject, from the other trusted CA: the handshake passes, the pattern refuses.
    let (status, text) = post_as(&ops_ca, "nifi-2", 2).await;
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("not allowed based on issuer dn"), "{text}");
    // The subject is checked first, as ListenHTTPServlet does.
    let (status, text) = post_as(&ops_ca, "intruder", 3).await;
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("not allowed based on subject dn"), "{text}");

    let (landed, ids) = landed_ids(&app, dir.path()).await;
    assert_eq!(ids, [1], "only the writer the issuer pattern allows landed");
    assert_eq!(
        landed[0].attr("restlistener.remote.issuer.dn"),
        Some("CN=Ingest CA, O=Example")
    );
}

/// ListenHTTP's *Client Authentication* WANT (ListenHTTP.java at rel/nifi-1.28.1 lines
/// 523-527: `setWantClientAuth(true)`): a certificate is asked for, not required. One that is
/// sent is verified and authorized as under REQUIRED (lines 220-238); a client without one
/// goes on to the other credentials here (the bearer token), so NiFi nodes with certificates
/// and other clients with tokens share one port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn want_takes_a_certificate_or_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let ca = make_ca("Test CA");
    let (app, base) = start_mtls(
        dir.path(),
        &ca,
        &[&ca],
        "CN=nifi-.*, O=Example",
        None,
        |s| {
            s.listener.client_authentication = snowstream::config::value::ClientAuth::Want;
            s.server.auth_token = Some("tok".into());
        },
    )
    .await;
    let ca_pem = ca.pem();
    let post = |identity, token, id| post_id(&ca_pem, &base, identity, token, id);
    // A NiFi node's certificate alone.
    assert_eq!(post(Some(leaf(&ca, "nifi-1", &[])), None, 1).await.0, 200);
    // No certificate: the token is needed, and enough.
    let (status, text) = post(None, None, 2).await;
    assert_eq!(status, 401, "{text}");
    assert_eq!(post(None, Some("tok"), 3).await.0, 200);
    // A certificate the pattern refuses is refused, token or not (as under REQUIRED).
    let (status, text) = post(Some(leaf(&ca, "intruder", &[])), Some("tok"), 4).await;
    assert_eq!(status, 403, "{text}");

    let (landed, mut ids) = landed_ids(&app, dir.path()).await;
    ids.sort();
    assert_eq!(ids, [1, 3]);
    let dn = |id: u64| {
        landed
            .iter()
            .find(|l| l.record["id"] == id)
            .and_then(|l| l.attr("restlistener.remote.user.dn"))
            .map(str::to_owned)
    };
    assert_eq!(dn(1).as_deref(), Some("CN=nifi-1, O=Example"));
    assert_eq!(dn(3).as_deref(), Some("none"));
}
