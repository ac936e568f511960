//! FlowFiles landed whole over HTTP: a pass-through stream's FlowFiles, and a dead-letter
//! stream's FlowFiles that do not parse. Each FlowFile's content is put to the sink unchanged
//! under a unique key ([`landing::passthrough::flowfile_key`]), then its sidecar: a JSON object
//! with the FlowFile's attributes and snowstream's meta (docs/architecture.md, contract 1b).
//! The answer comes once every one of them is in the sink.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use futures::StreamExt;
use landing::passthrough::{Area, flowfile_key};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::error::ApiError;
use crate::received::Received;

/// FlowFiles of one request put to the sink at once.
const CONCURRENT_PUTS: usize = 8;

/// One FlowFile to land whole, with the reason it was set aside (dead letters only).
pub(crate) struct Whole {
    pub flowfile: Received,
    pub error: Option<String>,
}

/// Lands every FlowFile of `items` in `area` of `stream`, each content then its sidecar.
/// Resolves with how many landed once all are in the sink; when one fails, the puts already
/// under way are let finish (one cut off halfway would leave the sink mid-put, and the answer
/// would come before the sink settles), none more is started, and the first error answers:
/// no answer says they landed (a client's retry finds those landed under the same keys).
pub(crate) async fn land_all(
    state: &AppState,
    stream: &str,
    area: Area,
    items: Vec<Whole>,
) -> Result<u64, ApiError> {
    let received_at = Utc::now();
    let retry_after = state.config.retry_after_secs;
    let failed = std::sync::atomic::AtomicBool::new(false);
    let results: Vec<_> = futures::stream::iter(items)
        .map(|w| {
            let failed = &failed;
            async move {
                if failed.load(std::sync::atomic::Ordering::Relaxed) {
                    return None;
                }
                let landed = land_one(state, stream, area, received_at, w).await;
                if landed.is_err() {
                    failed.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                Some(landed)
            }
        })
        .buffer_unordered(CONCURRENT_PUTS)
        .collect()
        .await;
    let mut landed = 0;
    for r in results.into_iter().flatten() {
        r.map_err(|e| ApiError::from_append(e, retry_after))?;
        landed += 1;
    }
    Ok(landed)
}

async fn land_one(
    state: &AppState,
    stream: &str,
    area: Area,
    received_at: DateTime<Utc>,
    mut w: Whole,
) -> Result<String, landing::AppendError> {
    // The key is named by a uuid made here, never by one a client could have set (a header
    // copied as an attribute). It is the FlowFile's `uuid`, derived from what the sender
    // sent (content and attributes), so a client's retry of a request that failed part-way
    // lands each FlowFile under the key it already has, once (same bytes: `put_once`).
    let uuid = flowfile_uuid(stream, area, &w.flowfile);
    let attrs = &mut w.flowfile.attributes;
    attrs.retain(|(k, _)| k != "uuid");
    attrs.push(("uuid".into(), uuid.clone()));
    // A form part's own file name gives the key its extension (its `filename` attribute is
    // the new FlowFile's, as in ListenHTTP, and has none).
    let name = last_value(attrs, "http.multipart.filename").or(last_value(attrs, "filename"));
    let key = flowfile_key(area, received_at, &uuid, name);
    let landed_key = state.landing.landed_key(stream, &key)?;
    let sidecar = sidecar_json(
        stream,
        &landed_key,
        received_at,
        &w.flowfile,
        w.error.as_deref(),
    );
    let content = Bytes::from(w.flowfile.content);
    state
        .landing
        .put_with_sidecar(
            stream,
            &key,
            content,
            Bytes::from(sidecar),
            area == Area::Http,
        )
        .await
}

/// A FlowFile's `uuid` on landing whole: a name-based UUID (version 8, SHA-256, as in RFC
/// 9562 appendix B.2) of the stream, the area, the content and the attributes as sent, but
/// the ones the front door made for this request alone (the `uuid`, and a `filename` that is
/// a timestamp). Two FlowFiles that differ in anything the sender set get two keys; the
/// same FlowFile sent again gets the same one. A package's FlowFiles differ by their NiFi
/// `uuid`, kept as `source.uuid`.
fn flowfile_uuid(stream: &str, area: Area, ff: &Received) -> String {
    let mut attrs: Vec<&(String, String)> = ff
        .attributes
        .iter()
        .filter(|(k, _)| k != "uuid" && !(ff.filename_made_here && k == "filename"))
        .collect();
    // A later duplicate wins, as in NiFi's attribute map; order does not matter.
    attrs.sort_by(|a, b| a.0.cmp(&b.0));
    attrs.dedup_by(|later, earlier| {
        let same = later.0 == earlier.0;
        if same {
            *earlier = *later;
        }
        same
    });
    let mut h = Sha256::new();
    let field = |h: &mut Sha256, b: &[u8]| {
        h.update((b.len() as u64).to_be_bytes());
        h.update(b);
    };
    field(&mut h, stream.as_bytes());
    field(&mut h, format!("{area:?}").as_bytes());
    field(&mut h, &ff.content);
    for (k, v) in attrs {
        field(&mut h, k.as_bytes());
        field(&mut h, v.as_bytes());
    }
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string()
}

/// The last value of attribute `key` (a later one wins, as in NiFi's attribute map).
fn last_value<'a>(attrs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    attrs
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The sidecar of a FlowFile landed whole at `landed_key`:
/// `{"attributes":{…},"meta":{"stream","key","bytes","sha256","received_at"[,"error"]}}`.
fn sidecar_json(
    stream: &str,
    landed_key: &str,
    received_at: DateTime<Utc>,
    ff: &Received,
    error: Option<&str>,
) -> Vec<u8> {
    let mut attributes = Map::new();
    for (k, v) in &ff.attributes {
        attributes.insert(k.clone(), Value::String(v.clone()));
    }
    let mut meta = json!({
        "stream": stream,
        "key": landed_key,
        "bytes": ff.content.len(),
        "sha256": hex::encode(Sha256::digest(&ff.content)),
        "received_at": received_at.to_rfc3339_opts(SecondsFormat::Millis, true),
    });
    if let Some(e) = error {
        meta["error"] = Value::String(e.to_owned());
    }
    let mut out = serde_json::to_vec(&json!({ "attributes": attributes, "meta": meta }))
        .expect("a JSON value serializes");
    out.push(b'\n');
    out
}

/// A pass-through stream's POST: every FlowFile lands whole; the answer (the configured
/// success code) comes once all are in the sink. A hold is never offered: there is nothing to
/// hold once the FlowFiles are landed, and PostHTTP takes any 2xx but 303 as success
/// (PostHTTP.java at rel/nifi-1.28.1, `onTrigger`: `if (holdUri == null)` … "Successfully
/// Posted" … `REL_SUCCESS`).
pub(crate) async fn receive(
    state: &AppState,
    stream: &str,
    flowfiles: Vec<Received>,
) -> Result<Response, ApiError> {
    let bytes: u64 = flowfiles.iter().map(|f| f.content.len() as u64).sum();
    let items = flowfiles
        .into_iter()
        .map(|flowfile| Whole {
            flowfile,
            error: None,
        })
        .collect();
    let n = land_all(state, stream, Area::Http, items).await?;
    metrics::counter!(landing::metric_names::BYTES_RECEIVED_TOTAL, "stream" => stream.to_owned())
        .increment(bytes);
    let code = StatusCode::from_u16(state.config.success_code).unwrap_or(StatusCode::OK);
    let text = format!(
        "landed {n} FlowFile{} whole into {stream}\n",
        if n == 1 { "" } else { "s" }
    );
    let mut resp = ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response();
    *resp.status_mut() = code;
    Ok(resp)
}
