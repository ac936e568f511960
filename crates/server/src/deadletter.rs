//! The dead-letter policy (`on_parse_error = "dead-letter"`): a FlowFile whose content does
//! not parse lands whole under the stream's dead-letter prefix, with a sidecar holding its
//! attributes and the reason, and the request's other FlowFiles are accepted. (The default
//! policy, `reject`, refuses the whole request: [`ingest::parse_flowfiles`].)

use landing::passthrough::Area;
use records::{Batch, Format};

use crate::AppState;
use crate::error::ApiError;
use crate::ingest::{self, BodySpec, parse_off_runtime};
use crate::passthrough::{Whole, land_all};
use crate::received::Received;

/// Parses `flowfiles` into one batch, setting aside those that do not parse. Returns the batch
/// and how many FlowFiles were set aside; those are in the sink already when this returns.
pub(crate) async fn parse(
    state: &AppState,
    stream: &str,
    flowfiles: Vec<Received>,
    fallback: Format,
    packaged: bool,
    limits: &BodySpec,
) -> Result<(Batch, u64), ApiError> {
    let bytes = flowfiles.iter().map(|f| f.content.len() as u64).sum();
    let (max_bytes, max_attrs) = (limits.max_bytes, limits.max_attribute_bytes);
    let envelope = limits.envelope;
    let (batch, bad) = parse_off_runtime(bytes, move || {
        split(
            flowfiles, fallback, packaged, max_bytes, max_attrs, envelope,
        )
    })
    .await
    .map_err(|e| ApiError::Internal(format!("record parser failed: {e}")))??;
    let set_aside = bad.len() as u64;
    if set_aside > 0 {
        for w in &bad {
            tracing::info!(%stream, error = w.error.as_deref().unwrap_or_default(),
                "FlowFile set aside as a dead letter");
        }
        land_all(state, stream, Area::DeadLetter, bad).await?;
        metrics::counter!(landing::metric_names::DEAD_LETTER_FLOWFILES_TOTAL,
            "stream" => stream.to_owned())
        .increment(set_aside);
    }
    Ok((batch, set_aside))
}

/// Each FlowFile is parsed into the batch; one that does not parse is taken back out (it may
/// have added some of its records before the bad one) and set aside with the reason. Limits
/// (413) still fail the whole request.
fn split(
    flowfiles: Vec<Received>,
    fallback: Format,
    packaged: bool,
    max_bytes: u64,
    max_attrs: u64,
    envelope: records::landed::Envelope,
) -> Result<(Batch, Vec<Whole>), ApiError> {
    let mut batch = Batch::for_request(envelope, max_bytes);
    let mut bad = Vec::new();
    for (i, ff) in flowfiles.into_iter().enumerate() {
        let before = batch.checkpoint();
        match ingest::parse_flowfile(&ff, i, fallback, packaged, max_attrs, &mut batch) {
            Ok(()) => {}
            Err(ApiError::BadRequest(reason)) => {
                batch.rollback(before);
                bad.push(Whole {
                    flowfile: ff,
                    error: Some(reason),
                });
            }
            Err(e) => return Err(e),
        }
    }
    Ok((batch, bad))
}
