//! NiFi's own HTTP client libraries against the receiver (issue 24): Apache HttpClient 4.5
//! (Debian `libhttpclient-java`, the line PostHTTP in NiFi 1.28.1 builds on) and OkHttp
//! (Debian `libokhttp-java` 3.13; InvokeHTTP in NiFi 2.x uses OkHttp 4/5, whose request
//! writing for a fixed-length or a streamed body is the same) on Debian's OpenJDK, driven as
//! PostHTTP.onTrigger and InvokeHTTP build their requests (`tests/java/NiFiClients.java`
//! cites the lines). Every record sent must land exactly once.
//!
//! The PostHTTP scenario is the one real deployments broke on: Basic auth without an auth
//! cache, so every POST is first sent without credentials, answered 401, and sent again with
//! its whole (repeatable, chunked) body on the same kept-alive connection.
//!
//! Without a JDK and the two libraries the test skips with a message, unless
//! `SNOWSTREAM_REQUIRE_JAVA_CLIENTS=1` (as in CI, where scripts/setup-java-clients.sh
//! installs them).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::support::receiver::TestServer;
use server::BasicUser;

const USER: &str = "nifi";
const PASSWORD: &str = "pa:ss-w0rd";
const TOKEN: &str = "invokehttp-token-5b1e";

/// The jars the harness needs, from Debian's packages.
const JARS: &[&str] = &[
    "httpclient.jar",
    "httpcore.jar",
    "commons-logging.jar",
    "commons-codec.jar",
    "okhttp.jar",
    "okio.jar",
];

/// The harness's classpath once compiled into `out`, or why it cannot be.
fn compile(out: &Path) -> Result<String, String> {
    let jars: Vec<PathBuf> = JARS
        .iter()
        .map(|j| Path::new("/usr/share/java").join(j))
        .collect();
    if let Some(missing) = jars.iter().find(|j| !j.is_file()) {
        return Err(format!("{} is missing", missing.display()));
    }
    let cp = jars
        .iter()
        .map(|j| j.display().to_string())
        .collect::<Vec<_>>()
        .join(":");
    let source = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/java/NiFiClients.java");
    let javac = std::process::Command::new("javac")
        .args(["-d"])
        .arg(out)
        .args(["-cp", &cp, source])
        .output()
        .map_err(|e| format!("javac: {e}"))?;
    if !javac.status.success() {
        panic!("javac failed:\n{}", String::from_utf8_lossy(&javac.stderr));
    }
    Ok(format!("{}:{cp}", out.display()))
}

/// Runs one scenario of the harness; the records it says it sent.
async fn run(cp: &str, args: &[&str]) -> u64 {
    run_with(cp, args, &[]).await
}

/// The same with environment variables (the TLS keystores).
async fn run_with(cp: &str, args: &[&str], env: &[(&str, &Path)]) -> u64 {
    let out = tokio::process::Command::new("java")
        .args(["-cp", cp, "NiFiClients"])
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_os_str())))
        .output()
        .await
        .expect("java runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .last()
        .and_then(|l| l.strip_prefix("sent "))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{args:?}: no count in {stdout}"))
}

/// The compiled harness, or `None` when this machine lacks a JDK or the jars and the run
/// does not require them.
fn harness(dir: &Path) -> Option<String> {
    match compile(dir) {
        Ok(cp) => Some(cp),
        Err(why) if std::env::var_os("SNOWSTREAM_REQUIRE_JAVA_CLIENTS").is_none() => {
            eprintln!("skipped: {why} (scripts/setup-java-clients.sh installs it)");
            None
        }
        Err(why) => panic!("{why}; SNOWSTREAM_REQUIRE_JAVA_CLIENTS=1 requires it"),
    }
}

/// Counts landed records by the prefix of their id, failing on any id landed twice.
fn count_by_prefix(landed: &[crate::support::receiver::Landed]) -> HashMap<String, u64> {
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut ids = std::collections::HashSet::new();
    for l in landed {
        let id = l.record["id"].as_str().expect("an id").to_owned();
        let prefix = id.split('-').next().unwrap_or_default().to_owned();
        *seen.entry(prefix).or_default() += 1;
        assert!(ids.insert(id.clone()), "{id} landed twice");
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posthttp_and_invokehttp_on_their_real_client_libraries_land_each_record_once() {
    let dir = tempfile::tempdir().unwrap();
    let Some(cp) = harness(dir.path()) else {
        return;
    };
    let s = TestServer::start_with(|setup| {
        setup.server.basic_auth = vec![BasicUser {
            user: USER.into(),
            password: PASSWORD.into(),
        }];
        setup.server.auth_token = Some(TOKEN.into());
    })
    .await;
    let url = s.url("/contentListener");
    let mut sent: HashMap<String, u64> = HashMap::new();
    // PostHTTP, Basic without an auth cache: 300 KB and 2 MB packages, three transfers each.
    for (prefix, bytes) in [("basic300k", "300000"), ("basic2m", "2000000")] {
        let args = [
            "posthttp", &url, USER, PASSWORD, prefix, "3", bytes, "false", "false",
        ];
        sent.insert(prefix.into(), run(&cp, &args).await);
    }
    // PostHTTP with compression and two-phase holds (the default Send as FlowFile flow).
    let args = [
        "posthttp", &url, USER, PASSWORD, "gzholds", "3", "1000000", "true", "true",
    ];
    sent.insert("gzholds".into(), run(&cp, &args).await);
    // InvokeHTTP with a bearer token: fixed-length and chunked bodies of 1 KB to 50 MB.
    for (prefix, bytes, chunked) in [
        ("ok1k", "1000", "false"),
        ("ok1kchunked", "1000", "true"),
        ("ok5m", "5000000", "false"),
        ("ok50mchunked", "50000000", "true"),
    ] {
        let args = ["invokehttp", &url, TOKEN, prefix, bytes, chunked];
        sent.insert(prefix.into(), run(&cp, &args).await);
    }

    let landed = s.landed().await;
    assert_eq!(
        count_by_prefix(&landed),
        sent,
        "every record sent landed once"
    );
}

/// Mutual TLS from Java keystores: the client's key and certificate in a PKCS12 keystore and
/// the CA in a PKCS12 truststore, loaded into an SSLContext the way NiFi's
/// StandardSSLContextService does, then PostHTTP's HttpClient (no Basic: the certificate is the
/// credential) and InvokeHTTP's OkHttp over it. The receiver requires a client certificate from
/// the CA whose subject matches *Authorized Subject DN Pattern*.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posthttp_and_invokehttp_over_mutual_tls_from_java_keystores() {
    use super::conformance_mtls::{leaf, make_ca, start_mtls};
    let dir = tempfile::tempdir().unwrap();
    let Some(cp) = harness(dir.path()) else {
        return;
    };
    let ca = make_ca("Test CA");
    let (app, base) = start_mtls(
        dir.path(),
        &ca,
        &[&ca],
        "CN=nifi-.*, O=Example",
        None,
        |_| {},
    )
    .await;
    let (cert, key) = leaf(&ca, "nifi-java", &[]);
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let (cert_path, key_path, ca_path) = (
        write("client.pem", &cert),
        write("client-key.pem", &key),
        write("ca.pem", &ca.pem()),
    );
    let stores = dir.path().join("stores");
    std::fs::create_dir(&stores).unwrap();
    let password = "store-pass";
    let path = |p: &Path| p.display().to_string();
    let args = [
        "keystores",
        &path(&cert_path),
        &path(&key_path),
        &path(&ca_path),
        &path(&stores),
        password,
    ];
    run(&cp, &args).await;
    let keystore = stores.join("keystore.p12");
    let truststore = stores.join("truststore.p12");
    let env: [(&str, &Path); 3] = [
        ("NIFI_KEYSTORE", &keystore),
        ("NIFI_TRUSTSTORE", &truststore),
        ("NIFI_STORE_PASSWORD", Path::new(password)),
    ];

    let mut sent: HashMap<String, u64> = HashMap::new();
    let post = [
        "posthttp", &base, "", "", "tlspost", "2", "300000", "true", "true",
    ];
    sent.insert("tlspost".into(), run_with(&cp, &post, &env).await);
    for (prefix, bytes, chunked) in [
        ("tlsok", "5000000", "false"),
        ("tlsokchunked", "1000", "true"),
    ] {
        let url = format!("{base}/customers");
        let args = ["invokehttp", &url, "", prefix, bytes, chunked];
        sent.insert(prefix.into(), run_with(&cp, &args, &env).await);
    }
    tokio::time::timeout(std::time::Duration::from_secs(30), app.landing().flush())
        .await
        .unwrap();
    let landed = crate::support::receiver::read_landed(&dir.path().join("landing"));
    assert_eq!(
        count_by_prefix(&landed),
        sent,
        "every record sent over TLS landed once"
    );
}
