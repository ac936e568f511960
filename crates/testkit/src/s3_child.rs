//! A `snowstream serve` child process landing in a [`TestS3`] that can go down and come back
//! on the same address, as the S3-outage test and the `overload` and `chaos` bench scenarios
//! run it: the store folder and its bucket, the child's S3 sink arguments and credentials,
//! and starting/stopping the child from async code.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::task::JoinError;

use crate::{S3_ACCESS_KEY, S3_SECRET_KEY, ServerProcess, TestS3};

/// The environment a child needs to sign its requests to a [`TestS3`] (and not to look for
/// EC2 instance credentials).
pub const S3_CHILD_ENV: [(&str, &str); 3] = [
    ("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY),
    ("AWS_SECRET_ACCESS_KEY", S3_SECRET_KEY),
    ("AWS_EC2_METADATA_DISABLED", "true"),
];

/// A [`TestS3`] serving one bucket of a store folder (objects are files under
/// `root/<bucket>/`), which can be stopped (an outage: listener and connections dropped) and
/// started again on the same address.
pub struct OutageS3 {
    root: PathBuf,
    bucket: String,
    addr: SocketAddr,
    server: Option<TestS3>,
}

impl OutageS3 {
    /// Creates `root/<bucket>` and serves `root` on a free port of 127.0.0.1.
    pub async fn start(root: &Path, bucket: &str) -> Self {
        std::fs::create_dir_all(root.join(bucket)).expect("create the bucket folder");
        let server = TestS3::start(root, "127.0.0.1:0".parse().expect("address")).await;
        OutageS3 {
            root: root.to_owned(),
            bucket: bucket.to_owned(),
            addr: server.addr,
            server: Some(server),
        }
    }

    /// `http://127.0.0.1:<port>`: the same before and after an outage.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bucket's folder: every landed object is a file below it.
    pub fn bucket_dir(&self) -> PathBuf {
        self.root.join(&self.bucket)
    }

    /// Stops serving (the outage starts); nothing if already stopped.
    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
    }

    /// Serves again on the same address (the outage ends); nothing if serving.
    pub async fn restart(&mut self) {
        if self.server.is_none() {
            self.server = Some(TestS3::start(&self.root, self.addr).await);
        }
    }

    /// Arguments of `snowstream serve` that land in this bucket (region us-east-1) with its
    /// data directory `data` and instance id `instance_id`, followed by `extra`.
    pub fn child_args(&self, data: &Path, instance_id: &str, extra: &[&str]) -> Vec<String> {
        let data = data.display().to_string();
        let endpoint = self.endpoint();
        let sink = [
            "--data-dir",
            &data,
            "--instance-id",
            instance_id,
            "--sink",
            "s3",
            "--s3-bucket",
            &self.bucket,
            "--s3-endpoint-url",
            &endpoint,
            "--s3-region",
            "us-east-1",
        ];
        sink.iter().chain(extra).map(|s| s.to_string()).collect()
    }
}

/// Starts `bin serve` on 127.0.0.1:`port` with `args` and [`S3_CHILD_ENV`] on the blocking
/// pool ([`ServerProcess::start`] waits, bounded, until the child is healthy).
pub async fn start_child(
    bin: &Path,
    port: u16,
    args: &[String],
) -> Result<ServerProcess, JoinError> {
    let (bin, args) = (bin.to_owned(), args.to_vec());
    tokio::task::spawn_blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        ServerProcess::start(&bin, port, &a, &S3_CHILD_ENV)
    })
    .await
}

/// SIGTERM (the child lands its spool, then exits) on the blocking pool, waiting at most
/// `limit`: the child's exit code.
pub async fn terminate_child(
    server: ServerProcess,
    limit: Duration,
) -> Result<Option<i32>, JoinError> {
    tokio::task::spawn_blocking(move || server.terminate(limit)).await
}
