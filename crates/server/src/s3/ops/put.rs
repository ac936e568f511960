//! Single-object operations: PutObject ingests (or, for a pass-through stream, lands whole)
//! one object; GetObject and HeadObject answer that nothing is stored. Also the body reader
//! that checks every declared digest, shared with UploadPart.

use s3s::dto::*;
use s3s::{S3Error, S3Request, S3Response, S3Result, s3_error};

use super::super::digest;
use super::super::error::slow_down;
use super::super::object::{self, ObjectInfo};
use super::{Front, metadata_pairs};

const NOT_STORED: &str = "snowstream ingests objects into records; it does not store them, so there is nothing to read back";

/// The NoSuchKey answer to every read of `key`.
pub(super) fn not_stored(key: &str) -> S3Error {
    s3_error!(NoSuchKey, "{key:?}: {NOT_STORED}")
}

/// Reads a body and checks every declared digest (headers, then trailers once read).
pub(super) async fn read_checked(
    body: Option<StreamingBlob>,
    max: u64,
    headers: &http::HeaderMap,
    content_md5: Option<String>,
    trailers: Option<&s3s::TrailingHeaders>,
) -> S3Result<(Vec<u8>, [u8; 16])> {
    let data = digest::read_body(body, max).await?;
    let declared = digest::check_declared(headers, content_md5, trailers, data.len() as u64)?;
    let md5 = digest::verify(&data, &declared)?;
    Ok((data, md5))
}

impl Front {
    pub(super) async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let input = req.input;
        let route = self.route(&input.bucket, &input.key)?;
        self.check_room(&route.stream)?;
        // Held until the object is answered: its bytes stay in memory until then.
        let budget = std::sync::Arc::new(tokio::sync::Mutex::new(
            self.shared.body_budget.reservation("s3"),
        ));
        let read = read_checked(
            crate::budget::s3_body(input.body, &budget),
            self.shared.max_request_bytes,
            &req.headers,
            input.content_md5,
            req.trailing_headers.as_ref(),
        )
        .await;
        if let Some(over) = budget.lock().await.refusal() {
            return Err(slow_down(&over.to_string(), 1));
        }
        let (body, md5) = read?;
        let etag = digest::etag_hex(&md5);
        let info = ObjectInfo {
            bucket: input.bucket,
            key: input.key,
            content_type: input.content_type,
            content_encoding: input.content_encoding,
            content_disposition: input.content_disposition,
            metadata: metadata_pairs(input.metadata),
        };
        if self.shared.is_pass_through(&route.stream) {
            let landed =
                object::land_whole(&self.landing, &self.shared, &route.stream, &info, body).await?;
            tracing::debug!(bucket = %info.bucket, key = %info.key, stream = %route.stream,
                %landed, "object landed whole (pass-through)");
        } else {
            let bytes = body.len() as u64;
            // The body stream that shared the reservation is done with it.
            let held = Some(budget.clone().lock_owned().await);
            let batch =
                object::parse_object(&self.shared, &route.stream, &info, body, &etag, held).await?;
            let receipt =
                object::append(&self.landing, &self.shared, &route.stream, batch, bytes).await?;
            tracing::debug!(bucket = %info.bucket, key = %info.key, stream = %route.stream,
                records = receipt.records, "object ingested");
        }
        Ok(S3Response::new(PutObjectOutput {
            e_tag: Some(ETag::Strong(etag)),
            ..Default::default()
        }))
    }
}
