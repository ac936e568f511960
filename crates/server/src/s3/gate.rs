//! What the S3 front door refuses before s3s reads anything, as Amazon S3 does:
//!
//! - **AWS Signature Version 2 in the `Authorization` header** (`AWS key:signature`). It
//!   covers neither the body nor a time window (s3s only checks that a `Date` header is
//!   there), so one captured request could be replayed forever, with any body, and every
//!   replay appends records. Amazon S3 answers V2 in every region opened since 2014, and for
//!   every bucket made since June 2020, with 400 `InvalidRequest` "The authorization
//!   mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256." (the SigV2
//!   deprecation notice in the Amazon S3 user guide). NiFi's PutS3Object, the AWS CLI and
//!   the SDKs sign requests with V4.
//! - **A V2 presigned URL** (`AWSAccessKeyId=`, `Signature=`, `Expires=` in the query), for
//!   the same reasons and with the same answer: SigV4 only, as Amazon S3 for every bucket made
//!   since June 2020. boto3 presigns with V2 by default against a custom endpoint; with
//!   `Config(signature_version="s3v4")` it presigns with V4, which s3s checks, expiry included
//!   (`X-Amz-Expires` at most 604800 s, [`MAX_PRESIGNED_SECS`]).
//! - **POST Object** (browser-form uploads, `multipart/form-data` to a bucket URL): s3s reads
//!   the whole file part (up to 5 GiB) before its access check, so an anonymous client could
//!   make it buffer that much. No S3 client snowstream serves uses it; answered 501
//!   `NotImplemented` before a byte of the body is read.

use std::task::{Context, Poll};

use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{Method, Request, Response, StatusCode};
use s3s::Body;

/// Longest a presigned URL may be valid, as Amazon S3 caps `X-Amz-Expires`.
const MAX_PRESIGNED_SECS: u64 = 604_800;

/// Wraps the s3s service; passes through whatever it does not refuse.
#[derive(Clone)]
pub(crate) struct Gate<S>(pub S);

/// Why a request is refused.
struct Refusal {
    status: StatusCode,
    /// The S3 error code.
    code: &'static str,
    message: &'static str,
    /// The `reason` label of `snowstream_rejected_total`.
    label: &'static str,
}

/// Amazon S3's answer to a Signature Version 2 request, in the header or the query.
const V2: Refusal = Refusal {
    status: StatusCode::BAD_REQUEST,
    code: "InvalidRequest",
    message: "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
    label: "s3_signature_v2",
};

fn refusal<B>(req: &Request<B>) -> Option<Refusal> {
    let v2_header = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("AWS "));
    if v2_header {
        return Some(V2);
    }
    if let Some(query) = req.uri().query() {
        let param = |name: &str| {
            query
                .split('&')
                .find_map(|p| p.strip_prefix(name)?.strip_prefix('='))
        };
        let v4 = param("X-Amz-Algorithm").is_some();
        if !v4 && (param("AWSAccessKeyId").is_some() || param("Signature").is_some()) {
            return Some(V2);
        }
        let expires = param("X-Amz-Expires").map(|e| e.parse::<u64>());
        if v4 && expires.is_some_and(|e| e.is_err() || e.is_ok_and(|e| e > MAX_PRESIGNED_SECS)) {
            return Some(Refusal {
                status: StatusCode::BAD_REQUEST,
                code: "AuthorizationQueryParametersError",
                message: "X-Amz-Expires must be less than a week (in seconds) that is 604800",
                label: "s3_presigned_expiry",
            });
        }
    }
    let form = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        });
    if req.method() == Method::POST && form {
        return Some(Refusal {
            status: StatusCode::NOT_IMPLEMENTED,
            code: "NotImplemented",
            message: "POST Object (browser-form upload) is not supported; use PutObject or a multipart upload.",
            label: "s3_post_object",
        });
    }
    None
}

/// The S3 error document for a refusal.
fn answer(r: &Refusal) -> Response<Body> {
    let (status, code, message) = (r.status, r.code, r.message);
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    );
    let mut resp = Response::new(Body::from(xml));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        CONTENT_TYPE,
        http::HeaderValue::from_static("application/xml"),
    );
    resp
}

impl<S, B> tower::Service<Request<B>> for Gate<S>
where
    S: tower::Service<Request<B>, Response = Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = futures::future::BoxFuture<'static, Result<Response<Body>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        if let Some(why) = refusal(&req) {
            metrics::counter!(landing::metric_names::REJECTED_TOTAL, "reason" => why.label)
                .increment(1);
            let resp = answer(&why);
            return Box::pin(async move { Ok(resp) });
        }
        let fut = self.0.call(req);
        Box::pin(fut)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: Method, uri: &str, headers: &[(&str, &str)]) -> Request<()> {
        let mut b = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap()
    }

    #[test]
    fn signature_v2_in_header_or_query_is_refused_v4_passes() {
        let v2 = req(
            Method::PUT,
            "/customers/a.ndjson",
            &[("authorization", "AWS AKID:c2lnbmF0dXJl")],
        );
        assert_eq!(refusal(&v2).unwrap().code, "InvalidRequest");
        // Presigned with V2, as boto3 does by default against a custom endpoint: refused
        // whatever its expiry.
        for expires in ["1", "4102444800"] {
            let uri = format!("/customers/a?AWSAccessKeyId=AKID&Expires={expires}&Signature=abc");
            assert_eq!(
                refusal(&req(Method::PUT, &uri, &[])).unwrap().code,
                "InvalidRequest"
            );
        }
        // A V4 presigned URL valid for more than a week, as S3 refuses it.
        let week_plus = req(
            Method::PUT,
            "/customers/a?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=604801&X-Amz-Signature=abc",
            &[],
        );
        assert_eq!(
            refusal(&week_plus).unwrap().code,
            "AuthorizationQueryParametersError"
        );
        let v4 = req(
            Method::PUT,
            "/customers/a.ndjson",
            &[(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKID/20261207/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=abc",
            )],
        );
        assert!(refusal(&v4).is_none());
        let v4_presigned = req(
            Method::PUT,
            "/customers/a?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=604800&X-Amz-Signature=abc",
            &[],
        );
        assert!(refusal(&v4_presigned).is_none());
    }

    #[test]
    fn browser_form_posts_are_refused_other_posts_pass() {
        let form = req(
            Method::POST,
            "/customers",
            &[("content-type", "multipart/form-data; boundary=x")],
        );
        assert_eq!(refusal(&form).unwrap().status, StatusCode::NOT_IMPLEMENTED);
        // CreateMultipartUpload and CompleteMultipartUpload are POSTs too.
        let create = req(Method::POST, "/customers/big.ndjson?uploads", &[]);
        assert!(refusal(&create).is_none());
    }
}
