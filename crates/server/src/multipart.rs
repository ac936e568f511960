//! `multipart/form-data` requests, taken as ListenHTTP takes them (ListenHTTPServlet.java at
//! rel/nifi-1.28.1, lines 266-271 and 303-339): one FlowFile per part, its content the part's
//! body, its attributes naming the part. What InvokeHTTP sends with `post:form:` dynamic
//! properties, a browser's form upload, or `curl -F`.
//!
//! Each part's attributes, as `savePartDetailsAsAttributes` sets them (a value that is absent
//! is not set): `http.headers.multipart.{name}` for each of its headers (names lowercase, as
//! the servlet container's parser keeps them), `http.multipart.size`,
//! `http.multipart.content.type` (the part's Content-Type as sent), `http.multipart.name`,
//! `http.multipart.filename` (the submitted file name), and
//! `http.multipart.fragments.sequence.number` (from 1) of
//! `http.multipart.fragments.total.number`. The request's own attributes are added by
//! [`crate::attrs`], as for any FlowFile.

use axum::http::header::CONTENT_TYPE;
use bytes::Bytes;

use crate::error::ApiError;
use crate::received::{Received, header_text};

/// Whether a request with this Content-Type is a form, by ListenHTTPServlet's own test (the
/// type contains `multipart/form-data`).
pub(crate) fn is_multipart(content_type: &str) -> bool {
    content_type.contains("multipart/form-data")
}

/// Splits a whole `multipart/form-data` body into one FlowFile per part (at most
/// `max_parts`, 413 above). A body that is not a well-formed form is a 400 with the reason.
pub(crate) async fn split(
    body: Vec<u8>,
    content_type: &str,
    max_parts: u64,
) -> Result<Vec<Received>, ApiError> {
    let bad = |e: multer::Error| ApiError::BadRequest(format!("multipart/form-data body: {e}"));
    let boundary = multer::parse_boundary(content_type).map_err(bad)?;
    let whole = futures::stream::once(async move { Ok::<Bytes, std::io::Error>(body.into()) });
    let mut form = multer::Multipart::new(whole, boundary);
    let mut parts: Vec<Received> = Vec::new();
    while let Some(field) = form.next_field().await.map_err(bad)? {
        if parts.len() as u64 >= max_parts {
            return Err(ApiError::OverLimit(format!(
                "the form has more than {max_parts} parts (--max-flowfiles-per-request)"
            )));
        }
        let mut attributes: Vec<(String, String)> = field
            .headers()
            .iter()
            .map(|(k, v)| (format!("http.headers.multipart.{k}"), header_text(v)))
            .collect();
        let named = [
            (
                "http.multipart.content.type",
                field.headers().get(CONTENT_TYPE).map(header_text),
            ),
            ("http.multipart.name", field.name().map(str::to_owned)),
            (
                "http.multipart.filename",
                field.file_name().map(str::to_owned),
            ),
        ];
        let content = field.bytes().await.map_err(bad)?.to_vec();
        attributes.push(("http.multipart.size".into(), content.len().to_string()));
        for (k, v) in named {
            if let Some(v) = v {
                attributes.push((k.into(), v));
            }
        }
        let seq = parts.len() + 1;
        attributes.push((
            "http.multipart.fragments.sequence.number".into(),
            seq.to_string(),
        ));
        parts.push(Received {
            attributes,
            content,
            filename_made_here: false,
        });
    }
    if parts.is_empty() {
        return Err(ApiError::BadRequest(
            "multipart/form-data body has no part".into(),
        ));
    }
    let total = parts.len().to_string();
    for p in &mut parts {
        p.attributes.push((
            "http.multipart.fragments.total.number".into(),
            total.clone(),
        ));
    }
    Ok(parts)
}

/// The record format a part names: its Content-Type, else its file name's extension.
pub(crate) fn part_format(attributes: &[(String, String)]) -> Option<records::Format> {
    let get = |key: &str| {
        attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    get("http.multipart.content.type")
        .and_then(records::Format::from_mime)
        .or_else(|| get("http.multipart.filename").and_then(records::Format::from_extension))
}
