//! The lander encodes the next segments while one is put (`encode_concurrency`): batch files
//! still land one at a time in sequence order, each data file before its manifest, under the
//! same keys and with the same lines as the serial lander, after a sink outage too, and
//! nothing acknowledged is lost or landed twice.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use landing::sink::{LocalSink, Put, Sink, SinkError};
use landing::{AckMode, Landing, LandingConfig, StreamConfig};
use records::Batch;

/// A real local sink that also records the order of the puts that reached it.
struct Recording {
    inner: Arc<testkit::SwitchableSink<LocalSink>>,
    puts: Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl Sink for Recording {
    async fn put_file(&self, key: &str, path: &Path) -> Result<Put, SinkError> {
        let put = self.inner.put_file(key, path).await?;
        self.puts.lock().unwrap().push(key.to_owned());
        Ok(put)
    }
    async fn put_bytes(&self, key: &str, body: bytes::Bytes) -> Result<Put, SinkError> {
        let put = self.inner.put_bytes(key, body).await?;
        self.puts.lock().unwrap().push(key.to_owned());
        Ok(put)
    }
    async fn get(&self, key: &str) -> Result<Option<bytes::Bytes>, SinkError> {
        self.inner.get(key).await
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
}

fn batch(ids: std::ops::Range<u64>) -> Batch {
    let mut b = Batch::new(chrono::Utc::now());
    b.begin_group(&[("filename", "f")]);
    for i in ids {
        b.push_record(format!(r#"{{"id":{i}}}"#).as_bytes());
    }
    b
}

/// 12 batch files of 10 records, sealed while the sink is down, then landed.
async fn lands_in_order(encode_concurrency: usize) {
    const FILES: u64 = 12;
    let dir = tempfile::tempdir().unwrap();
    let switch =
        testkit::SwitchableSink::new(LocalSink::new(dir.path().join("landing")).unwrap(), false);
    let sink = Arc::new(Recording {
        inner: switch.clone(),
        puts: Mutex::new(Vec::new()),
    });
    let mut sc = StreamConfig::new("s");
    sc.max_records = 10;
    sc.ack = AckMode::Durable;
    sc.encode_concurrency = encode_concurrency;
    let config = LandingConfig {
        spool_dir: dir.path().join("spool"),
        instance: "test-1".into(),
        spool_max_bytes: 64 << 20,
        streams: vec![sc],
    };
    let landing = Landing::start(config, sink.clone()).unwrap();
    for f in 0..FILES {
        let receipt = landing
            .append("s", batch(f * 10..f * 10 + 10))
            .await
            .unwrap();
        assert_eq!(receipt.first_seq, 1 + f * 10);
    }
    // Encodes run ahead while every put fails; then the sink comes back.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(sink.puts.lock().unwrap().is_empty());
    switch.set_up(true);
    tokio::time::timeout(Duration::from_secs(60), landing.flush())
        .await
        .expect("landed within a minute");

    let expected: Vec<String> = (0..FILES)
        .flat_map(|f| {
            let data = format!("test-1-{:020}.ndjson.zst", 1 + f * 10);
            let manifest = records::landed::manifest_key(&data);
            [data, manifest]
        })
        .collect();
    let puts: Vec<String> = sink
        .puts
        .lock()
        .unwrap()
        .iter()
        .map(|k| k.rsplit('/').next().unwrap().to_owned())
        .collect();
    assert_eq!(puts, expected, "one put each, in sequence order");

    let files = testkit::landed_files(&dir.path().join("landing"));
    assert_eq!(files.len() as u64, FILES);
    let mut seq = 1;
    for file in &files {
        let lines = testkit::read_landed(file);
        assert_eq!(lines.len(), 10);
        for line in lines {
            assert_eq!(line["meta"]["seq"], seq);
            assert_eq!(line["record"]["id"], seq - 1);
            seq += 1;
        }
    }
    let left: Vec<_> = std::fs::read_dir(dir.path().join("spool/s"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".seg"))
        .collect();
    assert!(left.is_empty(), "segments left in the spool: {left:?}");
    landing.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_lander_lands_in_order_after_an_outage() {
    lands_in_order(3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serial_lander_lands_the_same() {
    lands_in_order(1).await;
}
