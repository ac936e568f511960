//! Spool append through the public service, `Landing::append` of a one-record batch (the
//! single-record POST's cost after parsing): with `ack = durable` (the request waits for the
//! group-commit fsync), with `ack = received` (no fsync wait: what the write alone costs),
//! and 64 durable appends in flight (group commit: one fsync covers many).
//! `cargo bench -p landing --bench spool_append`. The spool lives under cargo's target tmp
//! dir, on the real disk (a tmpfs would make fsync free).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use landing::sink::LocalSink;
use landing::{AckMode, Landing, LandingConfig, StreamConfig};
use records::{Batch, Format, fill_batch};

const RECORD: &[u8] = br#"{"id":7,"name":"Customer 7","phone_number":"+64 21 555 0007","email":"customer7@example.com","address":"7 Queen Street\nAuckland 1010","country":"NZ","job":"Software engineer","updated_at":"2026-11-24T13:45:01.007Z","op":"U"}"#;
const ATTRS: [(&str, &str); 4] = [
    ("filename", "6f1c2a8e-1b7d-4a57-9d7e-000000000001"),
    ("path", "./"),
    ("uuid", "6f1c2a8e-1b7d-4a57-9d7e-000000000001"),
    ("mime.type", "application/json"),
];

fn one_record() -> Batch {
    let mut batch = Batch::new(Utc::now());
    fill_batch(&mut batch, &ATTRS, RECORD, Format::Json).expect("valid record");
    batch
}

/// A started service with one stream `b` under a fresh temp dir on the target's disk.
fn start(rt: &tokio::runtime::Runtime, ack: AckMode) -> (tempfile::TempDir, Arc<Landing>) {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let sink = LocalSink::new(dir.path().join("landing")).expect("sink");
    let mut stream = StreamConfig::new("b");
    stream.ack = ack;
    let config = LandingConfig {
        spool_dir: dir.path().join("spool"),
        instance: "bench".into(),
        spool_max_bytes: 1 << 30,
        streams: vec![stream],
    };
    let landing = rt
        .block_on(async { Landing::start(config, Arc::new(sink)) })
        .expect("landing starts");
    (dir, Arc::new(landing))
}

fn append(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("spool_append");
    group.measurement_time(Duration::from_secs(3));
    group.sample_size(20);
    group.throughput(Throughput::Elements(1));
    for (name, ack) in [
        ("one_record_durable_fsync", AckMode::Durable),
        ("one_record_received_no_fsync", AckMode::Received),
    ] {
        let (_dir, landing) = start(&rt, ack);
        group.bench_function(name, |b| {
            b.iter(|| {
                rt.block_on(landing.append("b", one_record()))
                    .map(|r| black_box(r.first_seq))
                    .expect("appended")
            })
        });
        rt.block_on(landing.shutdown());
    }
    // 64 requests in flight, as 64 NiFi connections: one fsync covers many of them.
    let (_dir, landing) = start(&rt, AckMode::Durable);
    group.throughput(Throughput::Elements(64));
    group.bench_function("64_in_flight_durable_group_commit", |b| {
        b.iter(|| {
            rt.block_on(async {
                let tasks: Vec<_> = (0..64)
                    .map(|_| {
                        let landing = Arc::clone(&landing);
                        tokio::spawn(async move { landing.append("b", one_record()).await })
                    })
                    .collect();
                for t in tasks {
                    black_box(t.await.expect("task").expect("appended").first_seq);
                }
            })
        })
    });
    rt.block_on(landing.shutdown());
    group.finish();
}

criterion_group!(benches, append);
criterion_main!(benches);
