//! PutObject bodies framed as aws-chunked through s3s's own request handling (SigV4 auth,
//! then its aws-chunked decoder) over a tiny S3 whose PutObject only reads the body: never a
//! panic, a correctly framed and signed body is taken and reads back exactly the framed
//! bytes, and a body the decoder refuses is an error, never a 2xx. Inputs: see `common.rs`.
//!
//! This is the target CI runs: it needs s3s, hyper and tokio but not the server crate, so its
//! cold instrumented build fits CI. Our own PutObject checks on top of the decoder (declared
//! length, trailer checksums) are fuzzed by `s3_front` (by hand) and tested in
//! crates/snowstream/tests/it/s3/wire.rs.
#![no_main]

mod common;

use std::sync::{Mutex, OnceLock};

use futures_util::StreamExt as _;
use libfuzzer_sys::fuzz_target;
use s3s::dto::{PutObjectInput, PutObjectOutput};
use s3s::{S3, S3Request, S3Response, S3Result, s3_error};

/// What the last PutObject read from its body.
static READ: Mutex<Option<Vec<u8>>> = Mutex::new(None);

/// An S3 whose only operation reads a PutObject's decoded body to its end.
struct Reader;

#[async_trait::async_trait]
impl S3 for Reader {
    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let mut got = Vec::new();
        if let Some(mut body) = req.input.body {
            while let Some(chunk) = body.next().await {
                match chunk {
                    Ok(b) => got.extend_from_slice(&b),
                    Err(e) => return Err(s3_error!(IncompleteBody, "{e}")),
                }
            }
        }
        *READ.lock().unwrap() = Some(got);
        Ok(S3Response::new(PutObjectOutput::default()))
    }
}

struct Front {
    rt: tokio::runtime::Runtime,
    service: s3s::service::S3Service,
}

fn front() -> &'static Front {
    static FRONT: OnceLock<Front> = OnceLock::new();
    FRONT.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let mut b = s3s::service::S3ServiceBuilder::new(Reader);
        b.set_auth(s3s::auth::SimpleAuth::from_single(common::AK, common::SK));
        Front {
            rt,
            service: b.build(),
        }
    })
}

fuzz_target!(|input: &[u8]| {
    let Some(case) = common::case(input, "obj.bin") else {
        return;
    };
    let f = front();
    *READ.lock().unwrap() = None;
    let Ok(resp) = f.rt.block_on(f.service.call(case.req)) else {
        return;
    };
    let ok = resp.status().is_success();
    let read = READ.lock().unwrap().take();
    if let Some(data) = &case.framed {
        assert_eq!(case.decoded_len, data.len());
        assert!(
            ok,
            "well-formed aws-chunked body refused: {} {:?}",
            resp.status(),
            resp.body().bytes()
        );
        assert_eq!(
            read.as_ref(),
            Some(data),
            "decoded bytes differ from the framed ones"
        );
    }
    if ok {
        assert!(read.is_some(), "a 2xx without PutObject reading its body");
    }
});
