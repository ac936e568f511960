//! The embedded warehouse's Snowpipe REST endpoints on a real socket: insertFiles loads named
//! files exactly once, insertReport/loadHistoryScan report them in Snowflake's format, and
//! bad tokens get Snowflake's 401.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use snowpipe::Verifier;
use warehouse::rest::{PipeConfig, PipeService, router};
use warehouse::{TableSpec, Warehouse};

use crate::support::{Event, land};

const PIPE: &str = "DB.RAW.CUSTOMERS_PIPE";

/// A user key: private PKCS#8 PEM, public SPKI PEM, fingerprint.
struct Key {
    private: String,
    public: String,
    fingerprint: String,
}

fn new_key() -> Key {
    let key = testkit::keys::rsa_key();
    Key {
        fingerprint: format!(
            "SHA256:{}",
            STANDARD.encode(Sha256::digest(&key.public_der))
        ),
        private: key.private_pem,
        public: key.public_pem,
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A token signed with `key` for `user` (`ACCOUNT.USER`), its issuer naming the public key
/// `fingerprint`, issued at `iat` and expiring at `exp`.
fn sign(key: &Key, user: &str, fingerprint: &str, iat: u64, exp: u64) -> String {
    let claims =
        json!({"iss": format!("{user}.{fingerprint}"), "sub": user, "iat": iat, "exp": exp});
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_rsa_pem(key.private.as_bytes()).unwrap(),
    )
    .unwrap()
}

fn good_token(key: &Key) -> String {
    let t = now();
    sign(key, "MYACCT.LOADER", &key.fingerprint, t, t + 3540)
}

struct Server {
    addr: SocketAddr,
    service: Arc<PipeService>,
    client: reqwest::Client,
}

async fn start(dir: &Path, key: &Key, pipe: Option<&str>) -> Server {
    let wh = Warehouse::open(&dir.join("wh.db"), &TableSpec::customers()).unwrap();
    let verifier = Verifier::new(
        key.public.as_bytes(),
        Some("myacct.eu-west-1"),
        Some("loader"),
    )
    .unwrap();
    let service = PipeService::new(
        wh,
        PipeConfig {
            landing_dir: dir.join("landing"),
            location: "customers".into(),
            verifier,
            pipe: pipe.map(str::to_owned),
            run_tasks: true,
        },
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router(service.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Server {
        addr,
        service,
        client: reqwest::Client::new(),
    }
}

impl Server {
    fn url(&self, endpoint: &str) -> String {
        format!("http://{}/v1/data/pipes/{PIPE}/{endpoint}", self.addr)
    }

    async fn insert(&self, token: &str, paths: &[String]) -> (u16, Value) {
        let body = json!({"files": paths.iter().map(|p| json!({"path": p})).collect::<Vec<_>>()});
        let resp = self
            .client
            .post(self.url("insertFiles?requestId=r-1"))
            .bearer_auth(token)
            .header("X-Snowflake-Authorization-Token-Type", "KEYPAIR_JWT")
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap())
    }

    async fn get(&self, token: &str, endpoint_and_query: &str) -> (u16, Value) {
        let resp = self
            .client
            .get(self.url(endpoint_and_query))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap())
    }

    fn raw_rows(&self) -> u64 {
        self.service.with_warehouse(|wh| wh.counts().unwrap().raw)
    }
}

/// A landed file's path as insertFiles takes it: relative to the pipe's location (the rendered
/// pipe reads `FROM @stage/customers/`).
fn rel(landing: &Path, p: &Path) -> String {
    p.strip_prefix(landing.join("customers"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[tokio::test]
async fn insert_files_loads_once_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let landing = dir.path().join("landing");
    let key = new_key();
    let srv = start(dir.path(), &key, Some(PIPE)).await;
    let token = good_token(&key);
    let events_a: Vec<Event> = (1..=3).map(|i| Event::new(i, "Ann", i * 10, "I")).collect();
    let events_b: Vec<Event> = (4..=5).map(|i| Event::new(i, "Bob", i * 10, "I")).collect();
    let a = rel(&landing, &land(&landing, "ss-1", 1, &events_a, false));
    let b = rel(&landing, &land(&landing, "ss-1", 4, &events_b, true));

    let (status, body) = srv.insert(&token, std::slice::from_ref(&a)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["responseCode"], "SUCCESS");
    assert_eq!(body["requestId"], "r-1");
    assert_eq!(srv.raw_rows(), 3);

    let (status, report) = srv.get(&token, "insertReport?requestId=x").await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["pipe"], PIPE);
    let files = report["files"].as_array().unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0]["path"], a.as_str());
    assert_eq!(files[0]["status"], "LOADED");
    assert_eq!(files[0]["rowsInserted"], 3);
    assert_eq!(files[0]["complete"], true);
    // The field types of the REST reference's tables: insertReport's completeResult is a
    // Boolean, loadHistoryScan's a String ("true"/"false", below).
    assert!(report["completeResult"].is_boolean(), "{report}");
    let mark = report["nextBeginMark"].as_str().unwrap().to_owned();

    // Again with the new file and a missing one: the first is skipped (load history), the
    // second loads, the third fails visibly.
    let missing = "dt=2026-11-24/hh=13/ss-1-00000000000000000099.ndjson.zst".to_owned();
    let (status, _) = srv
        .insert(&token, &[a.clone(), b.clone(), missing.clone()])
        .await;
    assert_eq!(status, 200);
    assert_eq!(srv.raw_rows(), 5);
    let (_, report) = srv
        .get(&token, &format!("insertReport?beginMark={mark}"))
        .await;
    let files = report["files"].as_array().unwrap();
    let by_path = |p: &str| files.iter().find(|f| f["path"] == p).cloned();
    assert!(
        by_path(&a).is_none(),
        "an already loaded file has no new event: {report}"
    );
    assert_eq!(by_path(&b).unwrap()["status"], "LOADED");
    let failed = by_path(&missing).unwrap();
    assert_eq!(failed["status"], "LOAD_FAILED");
    assert!(
        failed["firstError"].as_str().unwrap().contains("not found"),
        "{failed}"
    );
    assert_eq!(files.len(), 2);

    // loadHistoryScan sees both loads (from the load history) and the failure.
    let (status, scan) = srv
        .get(
            &token,
            "loadHistoryScan?startTimeInclusive=2020-01-01T00:00:00.000Z",
        )
        .await;
    assert_eq!(status, 200, "{scan}");
    assert_eq!(
        scan["completeResult"], "true",
        "a String in the reference: {scan}"
    );
    assert!(scan["rangeEndTime"].is_string(), "{scan}");
    let files = scan["files"].as_array().unwrap();
    let statuses: Vec<(String, String)> = files
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_owned(),
                f["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(statuses.contains(&(a.clone(), "LOADED".into())), "{scan}");
    assert!(statuses.contains(&(b.clone(), "LOADED".into())), "{scan}");
    assert!(
        statuses.contains(&(missing.clone(), "LOAD_FAILED".into())),
        "{scan}"
    );
    assert_eq!(files.len(), 3);
    // A range in the past is empty.
    let (_, scan) = srv
        .get(
            &token,
            "loadHistoryScan?startTimeInclusive=2020-01-01T00:00:00Z&endTimeExclusive=2020-01-02T00:00:00Z",
        )
        .await;
    assert_eq!(scan["files"].as_array().unwrap().len(), 0);
    // The SCD tasks ran after the loads.
    let latest = srv.service.with_warehouse(|wh| wh.counts().unwrap().latest);
    assert_eq!(latest, 5);
}

#[tokio::test]
async fn bad_tokens_get_snowflakes_401_and_load_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let landing = dir.path().join("landing");
    let key = new_key();
    let other = new_key();
    let srv = start(dir.path(), &key, None).await;
    let a = rel(
        &landing,
        &land(&landing, "ss-1", 1, &[Event::new(1, "Ann", 1, "I")], false),
    );
    let t = now();
    let (loader, fp) = ("MYACCT.LOADER", key.fingerprint.as_str());
    let cases = [
        (
            "signed by another key",
            sign(&other, loader, fp, t, t + 600),
        ),
        (
            "another key's fingerprint",
            sign(&key, loader, &other.fingerprint, t, t + 600),
        ),
        ("expired", sign(&key, loader, fp, t - 7200, t - 3700)),
        ("lifetime over an hour", sign(&key, loader, fp, t, t + 7200)),
        ("other user", sign(&key, "MYACCT.OTHER", fp, t, t + 600)),
        (
            "lower case subject",
            sign(&key, "myacct.loader", fp, t, t + 600),
        ),
        ("not a JWT", "abc.def.ghi".to_owned()),
    ];
    for (what, token) in &cases {
        let (status, body) = srv.insert(token, std::slice::from_ref(&a)).await;
        assert_eq!(status, 401, "{what}: {body}");
        assert_eq!(body["code"], "390144", "{what}");
        assert_eq!(body["success"], false, "{what}");
        assert!(body["data"].is_null(), "{what}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .starts_with("JWT token is invalid."),
            "{what}"
        );
        let (status, _) = srv.get(token, "insertReport").await;
        assert_eq!(status, 401, "{what}");
    }
    // No Authorization header at all.
    let resp = srv
        .client
        .get(srv.url("insertReport"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    assert_eq!(srv.raw_rows(), 0);
    // The right token works (and any pipe name is served when none is configured).
    let (status, _) = srv.insert(&good_token(&key), &[a]).await;
    assert_eq!(status, 200);
    assert_eq!(srv.raw_rows(), 1);
}

#[tokio::test]
async fn request_limits_text_bodies_and_pipe_names() {
    let dir = tempfile::tempdir().unwrap();
    let landing = dir.path().join("landing");
    let key = new_key();
    let srv = start(dir.path(), &key, Some(PIPE)).await;
    let token = good_token(&key);
    let too_many: Vec<String> = (0..5001).map(|i| format!("x/{i}.ndjson.zst")).collect();
    let (status, body) = srv.insert(&token, &too_many).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("5000"), "{body}");

    let a = rel(
        &landing,
        &land(&landing, "ss-1", 1, &[Event::new(1, "Ann", 1, "I")], false),
    );
    let resp = srv
        .client
        .post(srv.url("insertFiles"))
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body(format!("{a}\n"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(srv.raw_rows(), 1);

    let resp = srv
        .client
        .get(format!(
            "http://{}/v1/data/pipes/DB.RAW.OTHER/insertReport",
            srv.addr
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);

    let (status, _) = srv.get(&token, "loadHistoryScan").await;
    assert_eq!(status, 400, "startTimeInclusive is required");
    let (status, _) = srv.get(&token, "insertReport?beginMark=abc").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn bad_lines_make_a_partial_load_and_bare_base64_keys_work() {
    let dir = tempfile::tempdir().unwrap();
    let landing = dir.path().join("landing");
    let key = new_key();
    // The key as `ALTER USER … SET RSA_PUBLIC_KEY='MIIB…'` takes it: base64 without PEM lines.
    let bare: String = key
        .public
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let wh = Warehouse::open(&dir.path().join("wh.db"), &TableSpec::customers()).unwrap();
    let verifier = Verifier::new(bare.as_bytes(), None, None).unwrap();
    assert_eq!(verifier.fingerprint(), key.fingerprint);
    let service = PipeService::new(
        wh,
        PipeConfig {
            landing_dir: landing.clone(),
            location: "customers".into(),
            verifier,
            pipe: None,
            run_tasks: false,
        },
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(axum::serve(listener, router(service.clone())).into_future());
    let srv = Server {
        addr,
        service,
        client: reqwest::Client::new(),
    };
    let part = landing.join("customers/dt=2026-11-24/hh=13");
    std::fs::create_dir_all(&part).unwrap();
    let text =
        "{\"record\":{\"id\":1},\"meta\":{}}\nnot json\n{\"record\":{\"id\":2},\"meta\":{}}\n";
    std::fs::write(
        part.join("ss-1-00000000000000000001.ndjson.zst"),
        zstd::encode_all(text.as_bytes(), 1).unwrap(),
    )
    .unwrap();
    let path = "dt=2026-11-24/hh=13/ss-1-00000000000000000001.ndjson.zst".to_owned();
    let token = good_token(&key);
    let (status, _) = srv.insert(&token, &[path.clone(), path.clone()]).await;
    assert_eq!(status, 200);
    // Snowflake's JSON COPY with ON_ERROR = CONTINUE: the row before the parse error loads,
    // the rest of the file is skipped.
    assert_eq!(srv.raw_rows(), 1);
    let (_, report) = srv.get(&token, "insertReport").await;
    let files = report["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "a path named twice loads once: {report}");
    assert_eq!(files[0]["status"], "PARTIALLY_LOADED");
    assert_eq!(files[0]["rowsInserted"], 1);
    assert_eq!(files[0]["rowsParsed"], 2);
    assert_eq!(files[0]["errorsSeen"], 1);
    assert!(files[0]["firstError"].as_str().is_some());
}

/// insertFiles paths are relative to the pipe's COPY location (`FROM @stage/customers/`), as
/// the REST reference says of `path`: a path relative to the stage root repeats the location
/// (`customers/customers/…`), names no file, and fails visibly instead of loading.
#[tokio::test]
async fn paths_are_relative_to_the_pipe_location_not_the_stage() {
    let dir = tempfile::tempdir().unwrap();
    let landing = dir.path().join("landing");
    let key = new_key();
    let srv = start(dir.path(), &key, Some(PIPE)).await;
    let token = good_token(&key);
    let events: Vec<Event> = (1..=2).map(|i| Event::new(i, "Ann", i * 10, "I")).collect();
    let file = land(&landing, "ss-1", 1, &events, false);
    let from_stage_root = file
        .strip_prefix(&landing)
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(from_stage_root.starts_with("customers/"));
    let (status, body) = srv
        .insert(&token, std::slice::from_ref(&from_stage_root))
        .await;
    assert_eq!(status, 200);
    assert!(body.get("unmatchedPatternFiles").is_none(), "{body}");
    // A path the pipe's PATTERN does not match is answered in unmatchedPatternFiles.
    let (_, body) = srv.insert(&token, &["notes.txt".to_owned()]).await;
    assert_eq!(
        body["unmatchedPatternFiles"],
        serde_json::json!(["notes.txt"]),
        "{body}"
    );
    assert_eq!(srv.raw_rows(), 0, "nothing at customers/customers/…");
    let (_, report) = srv.get(&token, "insertReport?requestId=x").await;
    let files = report["files"].as_array().unwrap();
    assert_eq!(files[0]["status"], "LOAD_FAILED", "{report}");
    let (status, _) = srv.insert(&token, &[rel(&landing, &file)]).await;
    assert_eq!(status, 200);
    assert_eq!(
        srv.raw_rows(),
        2,
        "relative to the pipe's location, it loads"
    );
}
