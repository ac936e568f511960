//! Snowpipe REST notification: tells a pipe about each landed file through `insertFiles`, for
//! accounts that cannot use S3 event notifications.
//!
//! Per stream and optional ([`SnowpipeConfig`] in [`crate::StreamConfig::snowpipe`]). Once a
//! file and its manifest are stored, the lander appends its key to a durable queue file
//! (`{spool}/{stream}/snowpipe.queue`) before it deletes the spool segment; a background task
//! sends queued keys (relative to the stage location) in calls of at most
//! [`snowpipe::MAX_FILES_PER_CALL`] through a [`snowpipe::SnowpipeClient`], authenticated with
//! a key-pair JWT ([`snowpipe::JwtSigner`]), and drops them from the queue only after a 200.
//! Every landed file is notified at least once, across restarts too; Snowpipe skips files it
//! already loaded. Load results from `insertReport`/`loadHistoryScan` become the metric
//! `snowstream_snowpipe_files_total{stream,status}` and WARN logs for rejected files.

mod notifier;
mod queue;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use snowpipe::{JwtSigner, KeyError, MAX_FILES_PER_CALL, SnowpipeClient};

pub use queue::NotifyQueue;

/// Why the notifier could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The private key cannot be used.
    #[error(transparent)]
    Key(KeyError),
    /// The settings are incomplete or the HTTP client cannot be built.
    #[error("Snowpipe notifier: {0}")]
    Config(String),
    /// The queue file cannot be opened.
    #[error("Snowpipe notification queue {path}: {source}")]
    Queue {
        /// The queue file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Where and as whom to notify Snowpipe for one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnowpipeConfig {
    /// Account identifier, e.g. `myorg-myaccount` or `xy12345.eu-central-1` (the part after
    /// the first `.` is dropped in the JWT, kept in the default host).
    pub account: String,
    /// The Snowflake user whose `RSA_PUBLIC_KEY` matches `private_key`.
    pub user: String,
    /// Unencrypted RSA private key PEM (PKCS#8 or PKCS#1).
    pub private_key: PathBuf,
    /// Fully qualified pipe name, `DB.SCHEMA.PIPE` (case-sensitive).
    pub pipe: String,
    /// Base URL; default `https://{account}.snowflakecomputing.com` (`snowpipe::account_host`). Tests point it at
    /// `http://127.0.0.1:PORT` (`snowstream pipe serve`).
    pub url: Option<String>,
    /// Key prefix of the location in the pipe's COPY statement, stripped from landed keys:
    /// insertFiles paths are relative to it (e.g. `raw/customers` when the stage is
    /// `s3://bucket/raw/` and the pipe reads `FROM @stage/customers/`). Empty: keys as they are.
    pub strip_prefix: String,
    /// How often to ask `insertReport` while files await a load status (default 10 s).
    pub poll_interval: Duration,
    /// Files without a status after this are looked up with `loadHistoryScan` (default 10 min,
    /// how long Snowflake keeps `insertReport` events).
    pub history_after: Duration,
    /// Stop waiting for a file's status after this (default 1 h; counted as `unknown`).
    pub give_up_after: Duration,
    /// Files per `insertFiles` call (default and maximum 5,000).
    pub batch: usize,
}

impl SnowpipeConfig {
    /// Settings for `pipe` as `user` of `account` with the key at `private_key`, everything
    /// else at its default.
    pub fn new(
        account: impl Into<String>,
        user: impl Into<String>,
        private_key: impl Into<PathBuf>,
        pipe: impl Into<String>,
    ) -> Self {
        SnowpipeConfig {
            account: account.into(),
            user: user.into(),
            private_key: private_key.into(),
            pipe: pipe.into(),
            url: None,
            strip_prefix: String::new(),
            poll_interval: Duration::from_secs(10),
            history_after: Duration::from_secs(600),
            give_up_after: Duration::from_secs(3600),
            batch: MAX_FILES_PER_CALL,
        }
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> String {
        match &self.url {
            Some(u) if !u.trim().is_empty() => u.trim().trim_end_matches('/').to_owned(),
            _ => format!("https://{}", snowpipe::account_host(&self.account)),
        }
    }
}

/// What the notifier of one stream has done so far (this run): the one status type, kept
/// by the notifier and shown as is by `GET /api/status` (`streams[].snowpipe`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SnowpipeStatus {
    /// Landed files waiting for a successful `insertFiles` (read off the queue when the
    /// status is taken).
    pub queued: u64,
    /// Files accepted by `insertFiles`.
    pub notified: u64,
    /// Files Snowpipe loaded fully.
    pub loaded: u64,
    /// Files Snowpipe loaded in part (some rows rejected).
    pub partially_loaded: u64,
    /// Files Snowpipe could not load.
    pub failed: u64,
    /// Files given up on without a status.
    pub unknown: u64,
    /// The last `insertFiles` error, cleared by the next success.
    pub last_error: Option<String>,
    /// The latest files Snowpipe did not load fully, with Snowflake's first error, newest
    /// first (up to [`REJECTED_KEPT`]).
    pub rejected: Vec<RejectedFile>,
}

/// Rejected files kept in [`SnowpipeStatus::rejected`].
pub const REJECTED_KEPT: usize = 5;

/// A file Snowpipe did not load fully.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RejectedFile {
    /// Path relative to the stage.
    pub path: String,
    /// Snowpipe's status (`LOAD_FAILED`, `PARTIALLY_LOADED`).
    pub status: String,
    /// Snowflake's first error message.
    pub first_error: Option<String>,
}

/// The lander's side: queue a landed key, wake the sender.
#[derive(Clone)]
pub(crate) struct Hook {
    pub queue: Arc<NotifyQueue>,
    pub wake: Arc<tokio::sync::Notify>,
}

/// A started notifier.
pub(crate) struct Started {
    pub hook: Hook,
    pub status: Arc<Mutex<SnowpipeStatus>>,
    pub task: tokio::task::JoinHandle<()>,
}

impl Started {
    /// What the notifier has done so far, with the files queued now.
    pub fn status(&self) -> SnowpipeStatus {
        SnowpipeStatus {
            queued: self.hook.queue.len() as u64,
            ..self.status.lock().expect("lock").clone()
        }
    }
}

/// Opens the queue in `dir`, checks the key, and spawns the sender. Inside a tokio runtime.
pub(crate) fn start(
    stream: &str,
    dir: &std::path::Path,
    config: &SnowpipeConfig,
) -> Result<Started, NotifyError> {
    if config.pipe.trim().is_empty() {
        return Err(NotifyError::Config(format!(
            "stream {stream:?}: the Snowpipe pipe name is empty (expected DB.SCHEMA.PIPE)"
        )));
    }
    let signer = Arc::new(
        JwtSigner::from_pem_file(&config.account, &config.user, &config.private_key).map_err(
            |e| match e {
                KeyError::Identity(why) => NotifyError::Config(why.to_owned()),
                other => NotifyError::Key(other),
            },
        )?,
    );
    let client = SnowpipeClient::new(&config.base_url(), &config.pipe, signer.clone())
        .map_err(|e| NotifyError::Config(e.to_string()))?;
    let path = dir.join("snowpipe.queue");
    let queue = Arc::new(
        NotifyQueue::open(&path).map_err(|source| NotifyError::Queue {
            path: path.display().to_string(),
            source,
        })?,
    );
    let pending = queue.len();
    tracing::info!(%stream, pipe = %config.pipe, url = %config.base_url(), issuer = %signer.issuer(), pending,
        "Snowpipe notifier started");
    let wake = Arc::new(tokio::sync::Notify::new());
    let status = Arc::new(Mutex::new(SnowpipeStatus::default()));
    let notifier = notifier::Notifier {
        stream: stream.to_owned(),
        queue: queue.clone(),
        client,
        wake: wake.clone(),
        status: status.clone(),
        strip_prefix: config.strip_prefix.clone(),
        batch: config.batch,
        poll_interval: config.poll_interval,
        history_after: config.history_after,
        give_up_after: config.give_up_after,
    };
    let task = tokio::spawn(notifier.run());
    Ok(Started {
        hook: Hook { queue, wake },
        status,
        task,
    })
}

impl Hook {
    /// Durably queues `key`, retrying until the queue file takes it (the spool segment is
    /// kept meanwhile, so nothing is lost).
    pub async fn landed(&self, stream: &str, key: &str) {
        let mut attempt = 0;
        loop {
            let (queue, k) = (self.queue.clone(), key.to_owned());
            let res = tokio::task::spawn_blocking(move || queue.push(&k))
                .await
                .unwrap_or_else(|e| Err(std::io::Error::other(e)));
            match res {
                Ok(()) => break,
                Err(e) => {
                    tracing::error!(%stream, %key, queue = %self.queue.path().display(), error = %e,
                        "cannot queue the landed file for Snowpipe; retrying");
                    tokio::time::sleep(crate::retry::Backoff::LANDER.delay(attempt)).await;
                    attempt += 1;
                }
            }
        }
        self.wake.notify_one();
    }
}
