//! Encoding one spool segment straight into a staged put of the sink: the encoder (on the
//! blocking pool) hands its compressed output over in chunks of [`CHUNK`] bytes, at most
//! [`CHUNKS_IN_FLIGHT`] ahead of the sink, which writes them out as they come (local: a temp
//! file in the sink's folder; S3: parts). So a lander holds a few MiB per batch in flight
//! however large the batch is, and the spool disk gets no write (a full spool disk still
//! drains). The staged file becomes visible under its key only when the landing stage commits
//! it, in order.

use std::io::{self, Write};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use records::landed::{Envelope, Manifest};
use tokio::sync::mpsc;

use crate::config::Compression;
use crate::encode::encode_segment;
use crate::metric_names::SINK_ERRORS_TOTAL;
use crate::retry::Backoff;
use crate::sink::{Sink, SinkError, Staging};
use crate::spool::segment::SegmentInfo;

/// The size of the pieces the encoder hands to the sink.
const CHUNK: usize = 1 << 20;
/// Chunks between the encoder and the sink (the encoder waits when the sink is behind).
const CHUNKS_IN_FLIGHT: usize = 2;

/// A segment encoded into a staged put, not yet visible under its key.
pub(super) struct Encoded {
    pub manifest: Manifest,
    pub staged: Box<dyn Staging>,
}

/// Encoding one segment into its landed file, under `key`.
#[derive(Clone)]
pub(super) struct EncodeJob {
    pub info: SegmentInfo,
    pub key: String,
    pub stream: String,
    pub instance: String,
    pub compression: Compression,
    pub envelope: Envelope,
    pub sink: Arc<dyn Sink>,
}

/// Why one encode failed.
enum Failed {
    Encode(io::Error),
    Sink(SinkError),
}

impl EncodeJob {
    /// Encodes into a staged put, retrying with backoff on I/O and sink errors (the segment
    /// stays in the spool meanwhile). Fails only with `InvalidData` (a corrupt segment, to
    /// quarantine).
    pub async fn run(self) -> io::Result<Encoded> {
        let mut attempt = 0;
        loop {
            match self.once().await {
                Ok(encoded) => return Ok(encoded),
                Err(Failed::Encode(e)) if e.kind() == io::ErrorKind::InvalidData => return Err(e),
                Err(Failed::Encode(e)) => {
                    tracing::error!(stream = %self.stream, segment = %self.info.path.display(), error = %e,
                        "could not encode a batch file; retrying");
                }
                Err(Failed::Sink(e)) => {
                    metrics::counter!(SINK_ERRORS_TOTAL, "stream" => self.stream.clone())
                        .increment(1);
                    tracing::warn!(stream = %self.stream, key = %self.key, sink = %self.sink.describe(),
                        error = %e, attempt,
                        "could not write a batch file to the sink; the batch stays in the spool and will be retried");
                }
            }
            tokio::time::sleep(Backoff::LANDER.delay(attempt)).await;
            attempt += 1;
        }
    }

    async fn once(&self) -> Result<Encoded, Failed> {
        let mut staged = self.sink.stage(&self.key).await.map_err(Failed::Sink)?;
        let (tx, mut rx) = mpsc::channel::<Bytes>(CHUNKS_IN_FLIGHT);
        let job = self.clone();
        let encoder = tokio::task::spawn_blocking(move || {
            let out = Chunks {
                tx,
                buf: BytesMut::new(),
            };
            let (manifest, _) = encode_segment(
                &job.info,
                &job.key,
                &job.stream,
                &job.instance,
                job.compression,
                job.envelope,
                out,
            )?;
            Ok::<_, io::Error>(manifest)
        });
        let mut failed = None;
        while let Some(chunk) = rx.recv().await {
            if let Err(e) = staged.write(chunk).await {
                failed = Some(e);
                break;
            }
        }
        // The encoder's next send fails, so it stops early when the sink did.
        drop(rx);
        let encoded = encoder.await.unwrap_or_else(|e| Err(io::Error::other(e)));
        match (failed, encoded) {
            (None, Ok(manifest)) => Ok(Encoded { manifest, staged }),
            (Some(e), _) => {
                staged.abort().await;
                Err(Failed::Sink(e))
            }
            (None, Err(e)) => {
                staged.abort().await;
                Err(Failed::Encode(e))
            }
        }
    }
}

/// The encoder's output: chunks of about [`CHUNK`] bytes sent to the staging task.
struct Chunks {
    tx: mpsc::Sender<Bytes>,
    buf: BytesMut,
}

impl Chunks {
    fn send(&mut self) -> io::Result<()> {
        let chunk = std::mem::take(&mut self.buf).freeze();
        self.tx.blocking_send(chunk).map_err(|_| {
            io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the sink stopped taking the batch file",
            )
        })
    }
}

impl Write for Chunks {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.is_empty() {
            self.buf.reserve((CHUNK + (1 << 18)).max(data.len()));
        }
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.send()
    }
}
