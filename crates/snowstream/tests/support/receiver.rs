//! Harness of the HTTP receiver's tests (`http`, `nifi`, `hostile`): the shipped app
//! (snowstream::App, spool on a temp dir, local sink behind an on/off switch) on a real
//! 127.0.0.1 socket, a reqwest client that does not follow redirects, and readers for the
//! landed files.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use landing::sink::LocalSink;
use landing::{Landing, LandingConfig, StreamConfig};
use records::landed::{self, LandedKey, LandedLine, Manifest};
use serde_json::Value;
use server::ServerConfig;

/// A real local sink behind a switch, to play an outage of the sink.
pub type Switchable = testkit::SwitchableSink<LocalSink>;

/// What to start: server settings, streams and spool limit.
pub struct Setup {
    pub server: ServerConfig,
    pub streams: Vec<StreamConfig>,
    pub spool_max_bytes: u64,
    pub sink_up: bool,
    pub metrics: Option<Arc<dyn Fn() -> String + Send + Sync>>,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            server: ServerConfig::default(),
            streams: vec![StreamConfig::new("customers"), StreamConfig::new("orders")],
            spool_max_bytes: 64 << 20,
            sink_up: true,
            metrics: None,
        }
    }
}

/// A running receiver on 127.0.0.1: the shipped app ([`snowstream::App`]) with this
/// harness's server settings, streams and spool limit, over the switchable sink.
pub struct TestServer {
    pub base: String,
    pub client: reqwest::Client,
    pub landing: Arc<Landing>,
    pub sink: Arc<Switchable>,
    landing_dir: PathBuf,
    _app: snowstream::Running,
    _dir: tempfile::TempDir,
}

/// A client that shows 303s instead of following them and never uses a proxy.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("reqwest client")
}

impl TestServer {
    /// Starts with the defaults: streams `customers` and `orders`, base path `contentListener`.
    pub async fn start_default() -> TestServer {
        Self::start(Setup::default()).await
    }

    /// Starts with the defaults changed by `f`.
    pub async fn start_with(f: impl FnOnce(&mut Setup)) -> TestServer {
        let mut setup = Setup::default();
        f(&mut setup);
        Self::start(setup).await
    }

    pub async fn start(setup: Setup) -> TestServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let landing_dir = dir.path().join("landing");
        let sink = Switchable::new(
            LocalSink::new(&landing_dir).expect("local sink"),
            setup.sink_up,
        );
        let mut settings = snowstream::Settings::local(dir.path(), "t1").expect("settings");
        settings.server = setup.server;
        settings.landing = LandingConfig {
            spool_max_bytes: setup.spool_max_bytes,
            streams: setup.streams,
            ..settings.landing
        };
        let app = snowstream::App::builder(settings)
            .sink(sink.clone())
            .metrics(setup.metrics)
            .start()
            .await
            .expect("snowstream starts");
        TestServer {
            base: format!("http://{}", app.addr()),
            client: client(),
            landing: app.landing().clone(),
            sink,
            landing_dir,
            _app: app,
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.post(self.url(path))
    }

    /// Lands everything acknowledged so far (bounded wait), then reads every landed line.
    pub async fn landed(&self) -> Vec<Landed> {
        tokio::time::timeout(Duration::from_secs(20), self.landing.flush())
            .await
            .expect("flush finished within 20 s");
        read_landed(&self.landing_dir)
    }

    pub fn landing_dir(&self) -> &Path {
        &self.landing_dir
    }
}

/// An HTTP answer, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `(first, last)` sequence numbers of an "accepted N records … (seq a..=b)" answer.
    pub fn seqs(&self) -> Option<(u64, u64)> {
        let inner = self.text.split("(seq ").nth(1)?.split(')').next()?;
        let (a, b) = inner.split_once("..=")?;
        Some((a.parse().ok()?, b.parse().ok()?))
    }
}

pub async fn send(req: reqwest::RequestBuilder) -> Reply {
    let resp = req.send().await.expect("request reaches the server");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("response body");
    Reply {
        status,
        headers,
        text,
    }
}

/// One landed NDJSON line.
#[derive(Debug, Clone)]
pub struct Landed {
    /// Key relative to the landing folder, '/'-separated.
    pub key: String,
    /// The `record` exactly as written in the line.
    pub raw_record: String,
    pub record: Value,
    pub meta: Value,
}

impl Landed {
    pub fn seq(&self) -> u64 {
        self.meta["seq"].as_u64().expect("meta.seq is a number")
    }
    pub fn stream(&self) -> &str {
        self.meta["stream"]
            .as_str()
            .expect("meta.stream is a string")
    }
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.meta["attributes"].get(key).and_then(Value::as_str)
    }
}

/// Reads every landed data file under `root`, sorted by (stream, seq). Checks on the way
/// that each file's lines are in `seq` order starting at the key's sequence number, and that
/// its manifest agrees on the record count.
pub fn read_landed(root: &Path) -> Vec<Landed> {
    let mut out = Vec::new();
    for path in testkit::landed_files(root) {
        let key = path
            .strip_prefix(root)
            .expect("under root")
            .to_string_lossy()
            .replace('\\', "/");
        let text = landed::open(&path)
            .and_then(landed::LandedFile::read_text)
            .unwrap_or_else(|e| panic!("{key}: {e}"));
        let first_seq = LandedKey::parse(&key)
            .unwrap_or_else(|e| panic!("{e}"))
            .first_seq;
        let mut count = 0u64;
        for (i, (row, line)) in landed::lines(&text).enumerate() {
            let parsed =
                LandedLine::parse(line).unwrap_or_else(|e| panic!("{key} line {row}: {e}: {line}"));
            let landed = Landed {
                key: key.clone(),
                raw_record: parsed.record.get().to_owned(),
                record: serde_json::from_str(parsed.record.get()).expect("record is JSON"),
                meta: serde_json::from_str(parsed.meta.expect("line has meta").get())
                    .expect("meta is JSON"),
            };
            assert_eq!(
                landed.seq(),
                first_seq + i as u64,
                "{key}: lines are in seq order from the key's first_seq"
            );
            assert!(
                key.starts_with(&format!("{}/dt=", landed.stream()))
                    || key.contains(&format!("/{}/dt=", landed.stream())),
                "{key} is under its stream's folder"
            );
            out.push(landed);
            count += 1;
        }
        let manifest: Manifest = serde_json::from_slice(
            &std::fs::read(root.join(landed::manifest_key(&key)))
                .expect("manifest beside data file"),
        )
        .expect("manifest is JSON");
        assert_eq!(manifest.records, count, "{key} manifest");
    }
    out.sort_by(|a, b| (a.stream(), a.seq()).cmp(&(b.stream(), b.seq())));
    out
}

/// The landed records' values, in (stream, seq) order.
pub fn records(landed: &[Landed]) -> Vec<Value> {
    landed.iter().map(|l| l.record.clone()).collect()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).expect("gzip in memory");
    enc.finish().expect("gzip in memory")
}

/// One FlowFile to package: attributes and content.
pub type FlowFileSpec<'a> = (&'a [(&'a str, &'a str)], &'a [u8]);

/// A FlowFile package of `(attributes, content)` FlowFiles.
pub fn package(version: flowfile::Version, flowfiles: &[FlowFileSpec<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (attrs, content) in flowfiles {
        flowfile::encode(version, attrs, content, &mut out);
    }
    out
}

/// NiFi-made FlowFile fixtures: `shared/` beside the checkout, or `$SNOWSTREAM_SHARED_DIR`
/// (as the flowfile crate's fixture tests read them).
pub fn fixtures_dir() -> PathBuf {
    let shared = std::env::var_os("SNOWSTREAM_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")));
    shared.join("fixtures").join("flowfile")
}

pub fn fixture(name: &str) -> Vec<u8> {
    let path = fixtures_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

/// Whether `s` looks like a random (v4) UUID.
pub fn is_uuid_v4(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok_and(|u| u.get_version_num() == 4)
}

/// A name-based UUID (version 8), as a FlowFile landed whole is named.
pub fn is_uuid_v8(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok_and(|u| u.get_version_num() == 8)
}

/// Posts `body` to /contentListener as `content_type`, with the extra `headers`.
pub async fn post_as(
    s: &TestServer,
    content_type: &str,
    headers: &[(&str, &str)],
    body: impl Into<reqwest::Body>,
) -> Reply {
    let mut req = s
        .post("/contentListener")
        .header("content-type", content_type);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    send(req.body(body)).await
}

/// The JSON content type.
pub const JSON: &str = "application/json";
/// The NDJSON content type.
pub const NDJSON: &str = "application/x-ndjson";
