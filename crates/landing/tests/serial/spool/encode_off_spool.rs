//! A full spool disk can still drain (issue 12, item 7): encoding a batch writes nothing on
//! the spool disk (it is streamed into the sink), so with the disk full the lander still lands.
//!
//! The full disk is RLIMIT_FSIZE (see `testkit::faults`), process-wide: the test runs alone
//! (see `main.rs`). The sink keeps objects in memory, standing in for a remote object store
//! (S3): what it stores is not on the spool disk, so only the spool's own writes meet the
//! limit.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use landing::sink::{Put, Sink, SinkError};
use landing::{Landing, LandingConfig, StreamConfig};
use testkit::faults::id_batch;

use crate::support::limit_file_size;

#[derive(Default)]
struct RemoteStore(Mutex<BTreeMap<String, bytes::Bytes>>);

#[async_trait::async_trait]
impl Sink for RemoteStore {
    async fn put_file(&self, key: &str, path: &Path) -> Result<Put, SinkError> {
        let body = std::fs::read(path).map_err(|source| SinkError::Io {
            backend: "remote".into(),
            key: key.into(),
            action: "read",
            source,
        })?;
        self.put_bytes(key, body.into()).await
    }
    async fn put_bytes(&self, key: &str, body: bytes::Bytes) -> Result<Put, SinkError> {
        let mut objects = self.0.lock().unwrap();
        if objects.contains_key(key) {
            return Ok(Put::Exists);
        }
        objects.insert(key.to_owned(), body);
        Ok(Put::Created)
    }
    async fn get(&self, key: &str) -> Result<Option<bytes::Bytes>, SinkError> {
        Ok(self.0.lock().unwrap().get(key).cloned())
    }
    fn describe(&self) -> String {
        "remote".into()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_spool_disk_still_drains() {
    // Alone in this binary (see main.rs): the file size cap below is process-wide.
    let scenario = fail::FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(RemoteStore::default());
    let landing = Landing::start(
        LandingConfig {
            spool_dir: dir.path().join("spool"),
            instance: "t".into(),
            spool_max_bytes: 64 << 20,
            streams: vec![StreamConfig::new("customers")],
        },
        store.clone(),
    )
    .unwrap();
    for id in 1..=200 {
        landing.append("customers", id_batch(id)).await.unwrap();
    }
    // The disk is full: no file may grow past 32 bytes (the next_seq file still fits).
    let full = limit_file_size(32);
    let drained = tokio::time::timeout(Duration::from_secs(30), landing.flush()).await;
    drop(full);
    assert!(
        drained.is_ok(),
        "the batch did not land while the spool disk was full"
    );
    let objects = store.0.lock().unwrap().clone();
    let data: Vec<_> = objects.keys().filter(|k| k.ends_with(".zst")).collect();
    assert_eq!(data.len(), 1, "{:?}", objects.keys());
    let text = zstd::decode_all(&objects[data[0]][..]).unwrap();
    assert_eq!(
        text.split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .count(),
        200,
        "every acknowledged record landed"
    );
    landing.shutdown().await;
    scenario.teardown();
}
