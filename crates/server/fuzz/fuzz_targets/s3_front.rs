//! PutObject bodies framed as aws-chunked through the real S3 front door (s3s's aws-chunked
//! decoder, then our PutObject), in-process: never a panic, and a 2xx stored exactly the
//! decoded bytes, as many as declared. Inputs: see `common.rs`. The stream is pass-through,
//! so a stored object is a file in the local sink whose bytes the target compares with what
//! was framed. Built only with `--features front` (it compiles the whole server crate).
#![no_main]

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use common::{AK, BUCKET, SK};
use libfuzzer_sys::fuzz_target;

struct Front {
    rt: tokio::runtime::Runtime,
    service: s3s::service::S3Service,
    landed: PathBuf,
    _dir: tempfile::TempDir,
}

/// The S3 service over a pass-through stream landing into a local folder, built once.
fn front() -> &'static Front {
    static FRONT: OnceLock<Front> = OnceLock::new();
    FRONT.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let landed = dir.path().join("landing");
        let service = rt.block_on(async {
            let sink = Arc::new(landing::sink::LocalSink::new(&landed).expect("sink"));
            let config = landing::LandingConfig {
                spool_dir: dir.path().join("spool"),
                instance: "fuzz".into(),
                spool_max_bytes: 64 << 20,
                streams: vec![landing::StreamConfig::new("files")],
            };
            let landing = Arc::new(landing::Landing::start(config, sink).expect("landing"));
            let mut s3 = server::s3::S3Config::new(dir.path().join("uploads"));
            s3.credentials = vec![server::s3::S3Credential::parse(&format!("{AK}:{SK}")).unwrap()];
            s3.routes = vec![server::s3::BucketRoute::parse(&format!("{BUCKET}=files")).unwrap()];
            let mut shared = server::ServerConfig::default();
            shared.streams.insert(
                "files".into(),
                server::StreamOptions {
                    pass_through: true,
                    ..Default::default()
                },
            );
            server::s3::service(landing, s3, shared).expect("S3 service")
        });
        Front {
            rt,
            service,
            landed,
            _dir: dir,
        }
    })
}

fn find(dir: &Path, name: &str) -> Option<PathBuf> {
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        if p.is_dir() {
            if let Some(f) = find(&p, name) {
                return Some(f);
            }
        } else if p.file_name().is_some_and(|n| n == name) {
            return Some(p);
        }
    }
    None
}

static N: AtomicU64 = AtomicU64::new(0);

fuzz_target!(|input: &[u8]| {
    let f = front();
    let key = format!("obj-{}.bin", N.fetch_add(1, Ordering::Relaxed));
    let Some(common::Case {
        req,
        framed,
        decoded_len,
    }) = common::case(input, &key)
    else {
        return;
    };
    let resp = f.rt.block_on(f.service.call(req));
    let Ok(resp) = resp else { return };
    let ok = resp.status().is_success();
    if framed.as_ref().is_some_and(|data| !data.is_empty()) {
        // A correct framing of correctly signed chunks must be taken (an empty object may be
        // refused: the front door answers 400 to it).
        assert!(
            ok,
            "well-formed aws-chunked body refused: {} {:?}",
            resp.status(),
            resp.body().bytes()
        );
    }
    if ok {
        let stored = find(&f.landed, &key).expect("a 2xx object is in the sink");
        let got = std::fs::read(&stored).expect("read stored");
        let want = framed.unwrap_or_else(|| got.clone());
        assert_eq!(got, want, "stored bytes differ from the decoded body");
        assert_eq!(
            got.len(),
            decoded_len,
            "stored {:?}: its length differs from the declared one",
            got
        );
        let _ = std::fs::remove_file(stored);
    }
});
