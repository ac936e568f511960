//! The staleness monitor: per watched stream, "no batch file has landed for `stale_after`"
//! (counted from the start while none has). On each transition it sets the gauge
//! [`STREAM_STALE`], logs (WARN when a stream goes stale, INFO when a file lands again) and,
//! when a webhook is configured, queues a Slack/Teams-compatible JSON post
//! (`{"text": "…"}`). Posts go through a bounded queue to a task of their own and are retried
//! with the landing [`Backoff`]; a slow or dead webhook never holds up ingestion (alerts
//! beyond the queue are dropped and counted).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::mpsc;

use crate::error::LandingError;
use crate::metric_names::{ALERT_WEBHOOK_TOTAL, STREAM_STALE};
use crate::retry::{Backoff, RetryPolicy};
use crate::service::Landing;
use crate::status::now_ms;
use crate::status::stats::StreamStats;

/// Alerts waiting for the webhook task; more are dropped (and counted) rather than block.
const WEBHOOK_QUEUE: usize = 64;
/// Each post: up to 6 tries, waiting 0.2, 0.4, 0.8, 1.6 and 3.2 s between them.
const WEBHOOK_RETRY: RetryPolicy = RetryPolicy {
    backoff: Backoff::LANDER,
    attempts: 6,
};
/// One webhook request may take this long.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// What the monitor watches.
#[derive(Debug, Clone, Default)]
pub struct StaleConfig {
    /// Streams watched, with their threshold; streams not named are not watched.
    pub after: HashMap<String, Duration>,
    /// Incoming-webhook URL (Slack, Teams, or anything that takes `{"text": …}`).
    pub webhook: Option<String>,
    /// This instance's id, named in alerts.
    pub instance: String,
}

/// The JSON posted to the webhook: `text` is what Slack and Teams incoming webhooks show;
/// the other fields are for receivers that want them (Slack and Teams ignore them).
#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    /// One line for people.
    pub text: String,
    /// The stream.
    pub stream: String,
    /// `stale` or `recovered`.
    pub state: &'static str,
    /// The instance id.
    pub instance: String,
    /// The threshold in seconds.
    pub stale_after_s: f64,
    /// When the last file landed (ms since the epoch), if one did this run.
    pub last_landed_ms: Option<u64>,
}

/// A running monitor; dropping it stops it.
pub struct StaleMonitor {
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for StaleMonitor {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl StaleMonitor {
    /// Starts watching `landing`'s streams per `config` (`None` when no stream is watched).
    /// Inside a tokio runtime.
    pub fn start(
        landing: &Landing,
        config: StaleConfig,
    ) -> Result<Option<StaleMonitor>, LandingError> {
        let mut watched = Vec::new();
        for (name, after) in &config.after {
            let handle = landing.streams.get(name).ok_or_else(|| {
                LandingError::Config(format!("--stale-after for unknown stream {name:?}"))
            })?;
            if after.is_zero() {
                continue;
            }
            (handle.input.stats)
                .stale_after_ms
                .store(after.as_millis() as u64, Ordering::Relaxed);
            metrics::gauge!(STREAM_STALE, "stream" => name.clone()).set(0.0);
            watched.push((handle.input.stats.clone(), *after));
        }
        if watched.is_empty() {
            return Ok(None);
        }
        let mut tasks = Vec::new();
        let webhook = match &config.webhook {
            Some(url) if !url.trim().is_empty() => {
                let client = reqwest::Client::builder()
                    .timeout(WEBHOOK_TIMEOUT)
                    .build()
                    .map_err(|e| LandingError::Config(format!("--alert-webhook: {e}")))?;
                let (tx, rx) = mpsc::channel(WEBHOOK_QUEUE);
                tasks.push(tokio::spawn(post_alerts(client, url.trim().to_owned(), rx)));
                Some(tx)
            }
            _ => None,
        };
        let shortest = watched.iter().map(|(_, a)| *a).min().unwrap_or_default();
        let every = (shortest / 4).clamp(Duration::from_millis(100), Duration::from_secs(5));
        tracing::info!(streams = ?watched.iter().map(|(s, a)| format!("{}={a:?}", s.name)).collect::<Vec<_>>(),
            webhook = webhook.is_some(), "staleness monitor started");
        tasks.push(tokio::spawn(watch(
            watched,
            every,
            webhook,
            config.instance,
        )));
        Ok(Some(StaleMonitor { tasks }))
    }
}

async fn watch(
    watched: Vec<(Arc<StreamStats>, Duration)>,
    every: Duration,
    webhook: Option<mpsc::Sender<Alert>>,
    instance: String,
) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let now = now_ms();
        for (stats, after) in &watched {
            let last = stats.last_landed_ms();
            let idle =
                Duration::from_millis(now.saturating_sub(last.unwrap_or(stats.started_ms())));
            let stale = idle >= *after;
            if stale == stats.stale.swap(stale, Ordering::Relaxed) {
                continue;
            }
            let stream = stats.name.clone();
            metrics::gauge!(STREAM_STALE, "stream" => stream.clone()).set(if stale {
                1.0
            } else {
                0.0
            });
            let text = if stale {
                tracing::warn!(%stream, idle = ?idle, stale_after = ?after, last_landed_ms = ?last,
                    "stream is stale: no file has landed for longer than --stale-after");
                format!(
                    ":warning: snowstream `{instance}`: stream `{stream}` is stale: no file has landed for {}s (threshold {}s)",
                    idle.as_secs(),
                    after.as_secs_f64()
                )
            } else {
                tracing::info!(%stream, "stream recovered: a file landed again");
                format!(
                    ":white_check_mark: snowstream `{instance}`: stream `{stream}` recovered: a file landed again"
                )
            };
            if let Some(tx) = &webhook {
                let alert = Alert {
                    text,
                    stream: stream.clone(),
                    state: if stale { "stale" } else { "recovered" },
                    instance: instance.clone(),
                    stale_after_s: after.as_secs_f64(),
                    last_landed_ms: last,
                };
                if tx.try_send(alert).is_err() {
                    metrics::counter!(ALERT_WEBHOOK_TOTAL, "outcome" => "dropped").increment(1);
                    tracing::warn!(%stream, "alert webhook queue is full; alert dropped");
                }
            }
        }
    }
}

/// The error of a failed post, without the webhook's URL: a Slack or Teams incoming
/// webhook URL is itself the credential, and reqwest's error text names the URL.
fn without_url(e: reqwest::Error) -> String {
    e.without_url().to_string()
}

/// Posts alerts one at a time, in order, each retried per [`WEBHOOK_RETRY`].
async fn post_alerts(client: reqwest::Client, url: String, mut rx: mpsc::Receiver<Alert>) {
    while let Some(alert) = rx.recv().await {
        let mut failed = 0;
        loop {
            let res = client.post(&url).json(&alert).send().await;
            let err = match res {
                Ok(r) if r.status().is_success() => {
                    metrics::counter!(ALERT_WEBHOOK_TOTAL, "outcome" => "sent").increment(1);
                    break;
                }
                Ok(r) => format!("HTTP {}", r.status()),
                Err(e) => without_url(e),
            };
            failed += 1;
            match WEBHOOK_RETRY.wait_after(failed) {
                Some(wait) => {
                    tracing::warn!(stream = %alert.stream, error = %err, attempt = failed, "alert webhook failed; retrying");
                    tokio::time::sleep(wait).await;
                }
                None => {
                    metrics::counter!(ALERT_WEBHOOK_TOTAL, "outcome" => "failed").increment(1);
                    tracing::error!(stream = %alert.stream, error = %err, "alert webhook failed; giving up on this alert");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::without_url;

    /// A failed post is logged without the webhook URL, whose path is the secret (issue 22).
    #[tokio::test]
    async fn a_failed_post_does_not_name_the_webhook_url() {
        // A port that was just free: nothing listens there, so the connection is refused.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}/services/T0SECRET/B0SECRET/XXXXSECRET");
        let err = reqwest::Client::new().post(&url).send().await.unwrap_err();
        assert!(
            err.to_string().contains("SECRET"),
            "reqwest names the URL: {err}"
        );
        let logged = without_url(err);
        assert!(!logged.contains("SECRET"), "{logged}");
        assert!(!logged.is_empty());
    }
}
