//! Staged puts to S3 ([`Sink::stage`]): the body is gathered into parts of
//! `staged_part_size` bytes; a body that ends within the first part goes up as one conditional
//! PutObject, a larger one as a multipart upload (created when the first part is full, one
//! part in flight at a time) completed with `If-None-Match: *`. So a staging holds at most
//! one part in memory whatever the size of the body, and the object appears under its key
//! whole or not at all. A failed or dropped staging aborts its upload (best effort: an
//! unreachable server keeps the parts until it is told, or until a lifecycle rule for
//! incomplete uploads removes them).

use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::CompletedPart;
use bytes::{Bytes, BytesMut};

use super::{MAX_PARTS, S3Sink};
use crate::sink::{Put, Sink, SinkError, Staging, injected_stage_fault};

/// An open multipart upload and the parts it has.
struct Upload {
    id: String,
    parts: Vec<CompletedPart>,
}

pub(super) struct S3Staging {
    sink: S3Sink,
    key: String,
    /// The part being gathered.
    part: BytesMut,
    upload: Option<Upload>,
}

impl S3Staging {
    pub(super) fn new(sink: S3Sink, key: &str) -> Self {
        Self {
            sink,
            key: key.to_owned(),
            part: BytesMut::new(),
            upload: None,
        }
    }

    /// Uploads the gathered part (creating the upload first if none is open).
    async fn send_part(&mut self) -> Result<(), SinkError> {
        injected_stage_fault(&self.sink.describe(), &self.key)?;
        if self.upload.is_none() {
            let id = self.sink.create_upload(&self.key).await?;
            self.upload = Some(Upload {
                id,
                parts: Vec::new(),
            });
        }
        let upload = self.upload.as_mut().expect("an upload is open");
        let number = upload.parts.len() as u64 + 1;
        if number > MAX_PARTS {
            return Err(SinkError::S3 {
                backend: self.sink.describe(),
                key: self.key.clone(),
                operation: "UploadPart",
                message: format!("a staged body needs more than {MAX_PARTS} parts"),
                retryable: false,
            });
        }
        let body = std::mem::take(&mut self.part).freeze();
        let len = body.len() as u64;
        let part = self
            .sink
            .send_part(
                &self.key,
                &upload.id,
                number as i32,
                ByteStream::from(body),
                len,
            )
            .await?;
        upload.parts.push(part);
        Ok(())
    }

    async fn finish(&mut self) -> Result<Put, SinkError> {
        if self.upload.is_none() {
            injected_stage_fault(&self.sink.describe(), &self.key)?;
            let body = std::mem::take(&mut self.part).freeze();
            let len = body.len() as u64;
            return self
                .sink
                .put_object(&self.key, ByteStream::from(body), len)
                .await;
        }
        if !self.part.is_empty() {
            self.send_part().await?;
        }
        let upload = self.upload.as_mut().expect("an upload is open");
        let parts = std::mem::take(&mut upload.parts);
        let id = upload.id.clone();
        let put = self.sink.complete(&self.key, &id, parts).await;
        if matches!(put, Ok(Put::Created)) {
            self.upload = None;
        }
        put
    }

    async fn abort_upload(&mut self) {
        if let Some(upload) = self.upload.take() {
            self.sink.abort_upload(&self.key, &upload.id).await;
        }
    }
}

#[async_trait::async_trait]
impl Staging for S3Staging {
    fn key(&self) -> &str {
        &self.key
    }

    async fn write(&mut self, chunk: Bytes) -> Result<(), SinkError> {
        if self.part.is_empty() {
            self.part
                .reserve(self.sink.staged_part_size as usize + chunk.len());
        }
        self.part.extend_from_slice(&chunk);
        if self.part.len() as u64 >= self.sink.staged_part_size {
            self.send_part().await?;
        }
        Ok(())
    }

    async fn commit(mut self: Box<Self>, _sink: &dyn Sink) -> Result<Put, SinkError> {
        let put = self.finish().await;
        // Not completed (refused, failed, or an object already there): drop the parts.
        self.abort_upload().await;
        put
    }

    async fn abort(mut self: Box<Self>) {
        self.abort_upload().await;
    }
}

impl Drop for S3Staging {
    fn drop(&mut self) {
        // Dropped with an upload open (its task cancelled): abort it in the background.
        if let Some(upload) = self.upload.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let (sink, key) = (self.sink.clone(), self.key.clone());
            runtime.spawn(async move { sink.abort_upload(&key, &upload.id).await });
        }
    }
}

impl S3Sink {
    /// GetObject of `key`, its body handed to `each` as it arrives; `false` when there is no
    /// object.
    pub(super) async fn read_object(
        &self,
        key: &str,
        each: &mut (dyn for<'c> FnMut(&'c [u8]) + Send),
    ) -> Result<bool, SinkError> {
        let got = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await;
        let mut out = match got {
            Ok(out) => out,
            Err(aws_sdk_s3::error::SdkError::ServiceError(ctx))
                if ctx.raw().status().as_u16() == 404 =>
            {
                return Ok(false);
            }
            Err(e) => return Err(self.s3_error(key, "GetObject", e)),
        };
        while let Some(chunk) = out.body.next().await {
            let chunk = chunk.map_err(|e| SinkError::S3 {
                backend: self.describe(),
                key: key.to_owned(),
                operation: "GetObject",
                message: format!("reading the object failed: {}", DisplayErrorContext(&e)),
                retryable: true,
            })?;
            each(&chunk);
        }
        Ok(true)
    }
}
