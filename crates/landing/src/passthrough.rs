//! Pass-through: [`Landing::put_whole`] puts an object to the sink unchanged, bypassing the
//! spool, with a short bounded retry ([`RetryPolicy::PUT_WHOLE`]).

use crate::error::AppendError;
use crate::metric_names::{BYTES_LANDED_TOTAL, FILES_LANDED_TOTAL, SINK_ERRORS_TOTAL};
use crate::retry::RetryPolicy;
use crate::service::Landing;
use crate::sink;

impl Landing {
    /// Pass-through: puts `body` unchanged to the sink under `{prefix}/{stream}/{key}` (the
    /// stream's prefix, if any) and resolves with that key once the object is in the sink,
    /// bypassing the spool. A retryable sink error is retried a few times with backoff, then
    /// returned as [`AppendError::Sink`] with `retryable: true`. With a Snowpipe notifier on
    /// the stream, the key is queued for `insertFiles` like a landed batch file.
    pub async fn put_whole(
        &self,
        stream: &str,
        key: &str,
        body: bytes::Bytes,
    ) -> Result<String, AppendError> {
        let handle = self.stream(stream)?;
        if handle.closed() {
            return Err(AppendError::ShuttingDown);
        }
        let landed = match handle.config.prefix.as_str() {
            "" => format!("{stream}/{key}"),
            p => format!("{p}/{stream}/{key}"),
        };
        sink::validate_key(&landed).map_err(|e| {
            AppendError::InvalidKey(format!(
                "object key {key:?} cannot be landed as is (pass-through): {e}"
            ))
        })?;
        let bytes = body.len() as u64;
        let policy = RetryPolicy::PUT_WHOLE;
        let mut failed = 0;
        loop {
            let put = match sink::injected_put_fault(&self.sink.describe(), &landed) {
                Ok(()) => self.sink.put_bytes(&landed, body.clone()).await,
                Err(e) => Err(e),
            };
            let Err(e) = put else { break };
            metrics::counter!(SINK_ERRORS_TOTAL, "stream" => stream.to_owned()).increment(1);
            let retryable = e.is_retryable();
            failed += 1;
            match policy.wait_after(failed) {
                Some(wait) if retryable => tokio::time::sleep(wait).await,
                _ => {
                    tracing::warn!(%stream, key = %landed, sink = %self.sink.describe(), error = %e,
                        attempt = failed, "pass-through object not landed");
                    return Err(AppendError::Sink {
                        message: e.to_string(),
                        retryable,
                    });
                }
            }
        }
        if let Some(s) = &handle.snowpipe {
            s.hook.landed(stream, &landed).await;
        }
        metrics::counter!(FILES_LANDED_TOTAL, "stream" => stream.to_owned()).increment(1);
        metrics::counter!(BYTES_LANDED_TOTAL, "stream" => stream.to_owned()).increment(bytes);
        tracing::debug!(%stream, key = %landed, bytes, "pass-through object landed");
        Ok(landed)
    }
}
