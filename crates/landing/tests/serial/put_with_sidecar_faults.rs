//! A FlowFile whose sidecar put fails (failpoint `passthrough-sidecar-put`): the put is an
//! error (so its request is not acknowledged), the content left behind has no sidecar, and the
//! client's retry lands content and sidecar once. Reading the sidecars, as the docs say to,
//! gives every acknowledged FlowFile exactly once.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use landing::passthrough::{Area, SIDECAR_SUFFIX, flowfile_key};
use landing::sink::LocalSink;
use landing::{AppendError, Landing, LandingConfig, StreamConfig};

fn files_under(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    out
}

#[tokio::test]
async fn a_failed_sidecar_put_is_not_acknowledged_and_the_retry_lands_once() {
    let scenario = fail::FailScenario::setup();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let landing = Landing::start(
        LandingConfig {
            spool_dir: dir.join("spool"),
            instance: "pf".into(),
            spool_max_bytes: 1 << 20,
            streams: vec![StreamConfig::new("files")],
        },
        Arc::new(LocalSink::new(dir.join("landing")).unwrap()),
    )
    .unwrap();
    let content = Bytes::from_static(b"whole content");
    let sidecar = Bytes::from_static(b"{\"attributes\":{}}\n");
    let at = chrono::Utc::now();

    fail::cfg("passthrough-sidecar-put", "return").unwrap();
    let first = flowfile_key(Area::Http, at, "attempt-1", Some("x.bin"));
    let e = landing
        .put_with_sidecar("files", &first, content.clone(), sidecar.clone(), true)
        .await
        .expect_err("the sidecar put fails");
    assert!(
        matches!(
            e,
            AppendError::Sink {
                retryable: true,
                ..
            }
        ),
        "{e}"
    );
    fail::remove("passthrough-sidecar-put");

    // The client retries (its FlowFile gets a fresh uuid, so a fresh key).
    let second = flowfile_key(Area::Http, at, "attempt-2", Some("x.bin"));
    landing
        .put_with_sidecar("files", &second, content.clone(), sidecar, true)
        .await
        .expect("the retry lands");

    let all = files_under(&dir.join("landing"));
    let sidecars: Vec<&String> = all.iter().filter(|k| k.ends_with(SIDECAR_SUFFIX)).collect();
    assert_eq!(
        sidecars.len(),
        1,
        "one acknowledged FlowFile, once: {all:?}"
    );
    assert!(sidecars[0].contains("attempt-2"), "{sidecars:?}");
    // The failed attempt's content is there, but without a sidecar it was never acknowledged.
    assert!(all.iter().any(|k| k.ends_with("attempt-1.bin")), "{all:?}");
    assert_eq!(
        std::fs::read(dir.join("landing/files").join(&second)).unwrap(),
        content
    );
    scenario.teardown();
}
