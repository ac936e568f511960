//! HTTPS with a PEM certificate and key, and bearer-token auth, on the real binary.

use std::path::Path;
use std::time::Duration;

use testkit::{ServerProcess, free_port, landed_lines};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_bearer_token() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert_pem = cert.cert.pem();
    std::fs::write(dir.path().join("cert.pem"), &cert_pem).unwrap();
    std::fs::write(dir.path().join("key.pem"), cert.signing_key.serialize_pem()).unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    let args = [
        "--data-dir".to_owned(),
        data.to_str().unwrap().to_owned(),
        "--tls-cert".into(),
        cert_path.to_str().unwrap().into(),
        "--tls-key".into(),
        key_path.to_str().unwrap().into(),
        "--batch-max-age".into(),
        "100ms".into(),
    ];
    let bin = Path::new(env!("CARGO_BIN_EXE_snowstream"));
    // The token comes from the environment, as it would in a container.
    let server = tokio::task::spawn_blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        ServerProcess::start_tls(bin, port, &a, &[("SNOWSTREAM_AUTH_TOKEN", "s3cret-token")])
    })
    .await
    .unwrap();

    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let url = format!("https://localhost:{port}/contentListener");
    let post = |token: Option<&'static str>| {
        let mut req = client
            .post(&url)
            .header("content-type", "application/json")
            .body(r#"{"id": 1, "name": "over TLS"}"#);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };

    let no_token = post(None).await.unwrap();
    assert_eq!(no_token.status(), 401);
    assert_eq!(no_token.headers()["www-authenticate"], "Bearer");
    assert_eq!(post(Some("wrong")).await.unwrap().status(), 401);
    let ok = post(Some("s3cret-token")).await.unwrap();
    assert_eq!(ok.status(), 200, "{:?}", ok.text().await);

    // Plain HTTP on the TLS port does not get in.
    assert!(
        reqwest::get(format!("http://127.0.0.1:{port}/healthcheck"))
            .await
            .map(|r| !r.status().is_success())
            .unwrap_or(true)
    );

    let code = tokio::task::spawn_blocking(move || server.terminate(Duration::from_secs(30)))
        .await
        .unwrap();
    assert_eq!(code, Some(0));
    let lines = landed_lines(&data.join("landing"));
    assert_eq!(lines.len(), 1, "only the authorized request landed");
    assert_eq!(lines[0]["record"]["name"], "over TLS");
    let landed = serde_json::to_string(&lines[0]).unwrap();
    assert!(
        !landed.contains("s3cret-token"),
        "the token must never land"
    );
}

/// `--basic-auth-file` on the real binary: the users come from a file (never the command
/// line), a request without them is challenged as PostHTTP's HttpClient needs
/// (`WWW-Authenticate: Basic`), and a request with them lands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users");
    std::fs::write(&users, "# PostHTTP's Username/Password\nnifi:s3cret:pw\n").unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let args = [
        "--data-dir".to_owned(),
        data.to_str().unwrap().to_owned(),
        "--batch-max-age".into(),
        "100ms".into(),
    ];
    let users_env = users.to_str().unwrap().to_owned();
    let bin = Path::new(env!("CARGO_BIN_EXE_snowstream"));
    let server = tokio::task::spawn_blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        ServerProcess::start(bin, port, &a, &[("SNOWSTREAM_BASIC_AUTH_FILE", &users_env)])
    })
    .await
    .unwrap();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let url = format!("http://127.0.0.1:{port}/contentListener");
    let head = client.head(&url).send().await.unwrap();
    assert_eq!(head.status(), 401);
    assert_eq!(
        head.headers()["www-authenticate"],
        "Basic realm=\"snowstream\""
    );
    let post = |password: &'static str| {
        client
            .post(&url)
            .basic_auth("nifi", Some(password))
            .header("content-type", "application/json")
            .body(r#"{"id": 1, "name": "basic"}"#)
            .send()
    };
    assert_eq!(post("wrong").await.unwrap().status(), 401);
    let ok = post("s3cret:pw").await.unwrap();
    assert_eq!(ok.status(), 200, "{:?}", ok.text().await);

    let code = tokio::task::spawn_blocking(move || server.terminate(Duration::from_secs(30)))
        .await
        .unwrap();
    assert_eq!(code, Some(0));
    let lines = landed_lines(&data.join("landing"));
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["record"]["name"], "basic");
    assert!(!serde_json::to_string(&lines[0]).unwrap().contains("s3cret"));
}
