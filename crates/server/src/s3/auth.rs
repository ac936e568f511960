//! Who may call: SigV4 secrets by access key (s3s verifies the signature), and which buckets
//! each key may write.

use std::sync::Arc;

use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::path::S3Path;
use s3s::{S3Result, s3_error};

use super::config::S3Config;

pub(crate) struct Keys(pub Arc<S3Config>);

#[async_trait::async_trait]
impl S3Auth for Keys {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        match self.0.credential(access_key) {
            Some(c) => Ok(SecretKey::from(c.secret_key.as_str())),
            None => Err(s3_error!(
                InvalidAccessKeyId,
                "The AWS access key id you provided does not exist in snowstream's S3 credentials."
            )),
        }
    }
}

pub(crate) struct Buckets(pub Arc<S3Config>);

#[async_trait::async_trait]
impl S3Access for Buckets {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let Some(creds) = cx.credentials() else {
            return Err(s3_error!(
                AccessDenied,
                "snowstream requires signed requests (AWS Signature V4)"
            ));
        };
        let bucket = match cx.s3_path() {
            S3Path::Root => return Ok(()),
            S3Path::Bucket { bucket } | S3Path::Object { bucket, .. } => bucket,
        };
        if !self.0.has_bucket(bucket) {
            return Err(s3_error!(
                NoSuchBucket,
                "bucket {bucket:?} is not mapped to a snowstream stream"
            ));
        }
        let allowed = self
            .0
            .credential(&creds.access_key)
            .is_some_and(|c| c.may_write(bucket));
        if allowed {
            Ok(())
        } else {
            Err(s3_error!(
                AccessDenied,
                "access key {:?} may not write to bucket {bucket:?}",
                creds.access_key
            ))
        }
    }
}
