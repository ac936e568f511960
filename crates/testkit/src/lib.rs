//! Test support shared by snowstream's integration tests: a real S3 server in-process
//! (s3s + s3s-fs on 127.0.0.1), a real sink behind an on/off switch, readers for landed
//! files, and control of a `snowstream` server process (start, wait until healthy, SIGKILL,
//! SIGTERM). Loopback only.

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use records::landed;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

pub mod faults;
pub mod keys;
pub mod s3_child;

pub const S3_ACCESS_KEY: &str = "snowstream-test";
pub const S3_SECRET_KEY: &str = "snowstream-test-secret";

/// An S3 server storing objects as files under `root/<bucket>/<key>`. Stopping it drops the
/// listener and every open connection; starting again on the same address resumes service.
pub struct TestS3 {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl TestS3 {
    /// Serves `root` (create `root/<bucket>` first) on `addr` (`127.0.0.1:0` for any port).
    pub async fn start(root: &Path, addr: SocketAddr) -> Self {
        let listener = TcpListener::bind(addr).await.expect("bind test S3");
        let addr = listener.local_addr().expect("local addr");
        let fs = s3s_fs::FileSystem::new(root).expect("s3s-fs root");
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(S3_ACCESS_KEY, S3_SECRET_KEY));
        let service = builder.build();
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                let service = service.clone();
                connections.spawn(async move {
                    let _ = ConnBuilder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(socket), service)
                        .await;
                });
            }
        });
        TestS3 { addr, task }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

/// A real sink behind a switch, to play an outage of the sink: while down, every put fails
/// with a retryable connection error and nothing reaches the inner sink.
pub struct SwitchableSink<S> {
    inner: S,
    up: Arc<AtomicBool>,
}

impl<S: landing::sink::Sink> SwitchableSink<S> {
    pub fn new(inner: S, up: bool) -> Arc<Self> {
        Arc::new(SwitchableSink {
            inner,
            up: Arc::new(AtomicBool::new(up)),
        })
    }

    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
    }

    fn check(&self, key: &str) -> Result<(), landing::sink::SinkError> {
        switch_check(&self.up, key)
    }
}

fn switch_check(up: &AtomicBool, key: &str) -> Result<(), landing::sink::SinkError> {
    if up.load(Ordering::SeqCst) {
        Ok(())
    } else {
        Err(landing::sink::SinkError::Io {
            backend: "test".into(),
            key: key.into(),
            action: "put",
            source: std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "sink down"),
        })
    }
}

/// The inner sink's staged put, behind the same switch: while down, writes and the commit
/// fail (the commit aborting the staged body) and nothing reaches the inner sink.
struct SwitchedStaging {
    inner: Box<dyn landing::sink::Staging>,
    up: Arc<AtomicBool>,
}

#[async_trait::async_trait]
impl landing::sink::Staging for SwitchedStaging {
    fn key(&self) -> &str {
        self.inner.key()
    }
    async fn write(&mut self, chunk: bytes::Bytes) -> Result<(), landing::sink::SinkError> {
        switch_check(&self.up, self.inner.key())?;
        self.inner.write(chunk).await
    }
    async fn commit(
        self: Box<Self>,
        sink: &dyn landing::sink::Sink,
    ) -> Result<landing::sink::Put, landing::sink::SinkError> {
        if let Err(e) = switch_check(&self.up, self.inner.key()) {
            self.inner.abort().await;
            return Err(e);
        }
        self.inner.commit(sink).await
    }
    async fn abort(self: Box<Self>) {
        self.inner.abort().await;
    }
}

#[async_trait::async_trait]
impl<S: landing::sink::Sink> landing::sink::Sink for SwitchableSink<S> {
    async fn put_file(
        &self,
        key: &str,
        path: &Path,
    ) -> Result<landing::sink::Put, landing::sink::SinkError> {
        self.check(key)?;
        self.inner.put_file(key, path).await
    }
    async fn put_bytes(
        &self,
        key: &str,
        body: bytes::Bytes,
    ) -> Result<landing::sink::Put, landing::sink::SinkError> {
        self.check(key)?;
        self.inner.put_bytes(key, body).await
    }
    async fn get(&self, key: &str) -> Result<Option<bytes::Bytes>, landing::sink::SinkError> {
        self.check(key)?;
        self.inner.get(key).await
    }
    async fn stage(
        &self,
        key: &str,
    ) -> Result<Box<dyn landing::sink::Staging>, landing::sink::SinkError> {
        self.check(key)?;
        let inner = self.inner.stage(key).await?;
        Ok(Box::new(SwitchedStaging {
            inner,
            up: self.up.clone(),
        }))
    }
    async fn read_each(
        &self,
        key: &str,
        each: &mut (dyn for<'c> FnMut(&'c [u8]) + Send),
    ) -> Result<bool, landing::sink::SinkError> {
        self.check(key)?;
        self.inner.read_each(key, each).await
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
}

/// Every landed data file (`*.ndjson.zst` / `*.ndjson.gz`) below `root`, sorted.
pub fn landed_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if landed::is_data_file(&p.to_string_lossy()) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The JSON lines of one landed file.
pub fn read_landed(path: &Path) -> Vec<serde_json::Value> {
    let text = landed::open(path)
        .and_then(landed::LandedFile::read_text)
        .unwrap_or_else(|e| panic!("decompress landed file: {e}"));
    landed::lines(&text)
        .map(|(_, l)| serde_json::from_str(l).expect("landed line is JSON"))
        .collect()
}

/// Every landed line below `root`.
pub fn landed_lines(root: &Path) -> Vec<serde_json::Value> {
    landed_files(root)
        .iter()
        .flat_map(|p| read_landed(p))
        .collect()
}

/// A port on 127.0.0.1 free right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A `snowstream serve` child process.
pub struct ServerProcess {
    child: Child,
    pub base: String,
}

impl ServerProcess {
    /// Starts `bin serve --listen 127.0.0.1:<port> <args>` and waits (bounded) until healthy.
    pub fn start(bin: &Path, port: u16, args: &[&str], envs: &[(&str, &str)]) -> Self {
        let server = Self::spawn(bin, port, args, envs);
        server.wait_until(Duration::from_secs(30), || {
            http_get_ok(&format!("{}/healthcheck", server.base))
        });
        server
    }

    /// Like [`ServerProcess::start`] for a server speaking TLS: waits until the port accepts.
    pub fn start_tls(bin: &Path, port: u16, args: &[&str], envs: &[(&str, &str)]) -> Self {
        let server = Self::spawn(bin, port, args, envs);
        server.wait_until(Duration::from_secs(30), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        server
    }

    /// Like [`ServerProcess::start`], with the child's standard error going to `stderr` (a
    /// file, `/dev/full`, …) and its log level `RUST_LOG=level`.
    pub fn start_logging_to(
        bin: &Path,
        port: u16,
        args: &[&str],
        level: &str,
        stderr: Stdio,
    ) -> Self {
        let server = Self::spawn_with(bin, port, args, &[("RUST_LOG", level)], stderr);
        server.wait_until(Duration::from_secs(30), || {
            http_get_ok(&format!("{}/healthcheck", server.base))
        });
        server
    }

    fn spawn(bin: &Path, port: u16, args: &[&str], envs: &[(&str, &str)]) -> Self {
        Self::spawn_with(bin, port, args, envs, Stdio::inherit())
    }

    fn spawn_with(
        bin: &Path,
        port: u16,
        args: &[&str],
        envs: &[(&str, &str)],
        stderr: Stdio,
    ) -> Self {
        let mut cmd = Command::new(bin);
        cmd.arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .args(args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("spawn snowstream");
        ServerProcess {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    fn wait_until(&self, limit: Duration, ready: impl Fn() -> bool) {
        let start = Instant::now();
        while start.elapsed() < limit {
            if ready() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("snowstream did not become ready within {limit:?}");
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }

    /// SIGTERM and wait for a clean exit; returns the exit status code.
    pub fn terminate(mut self, limit: Duration) -> Option<i32> {
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        panic!("snowstream did not exit within {limit:?} of SIGTERM");
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether a plain-HTTP GET of `url` answers 200 (a blocking probe for sync test code).
pub fn http_get_ok(url: &str) -> bool {
    use std::io::Write;
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let Ok(mut s) = std::net::TcpStream::connect(host) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(2)));
    let req = format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    buf.starts_with("HTTP/1.1 200")
}
