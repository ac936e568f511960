//! Encoding records into a landed file's bytes: (1) a packed batch read back entry by entry,
//! each record written as its landed line (`records::landed::LineWriter`) into a zstd
//! level-3 stream, as the lander's encoder does per spool frame; (2) the whole landing step
//! through the public service: `Landing::flush` of an open batch (seal the spool segment,
//! encode it to zstd, write, fsync and put it in a local sink with its manifest).
//! `cargo bench -p landing --bench encode`.

use std::hint::black_box;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use landing::sink::LocalSink;
use landing::{AckMode, Landing, LandingConfig, StreamConfig};
use records::batch::{Entry, Payload};
use records::landed::{LineWriter, format_time};
use records::{Batch, Format, fill_batch};

const ATTRS: [(&str, &str); 4] = [
    ("filename", "6f1c2a8e-1b7d-4a57-9d7e-000000000001"),
    ("path", "./"),
    ("uuid", "6f1c2a8e-1b7d-4a57-9d7e-000000000001"),
    ("mime.type", "application/x-ndjson"),
];

/// ~1 MiB of NDJSON customer records (~250 bytes each), packed into one batch.
fn batch() -> Batch {
    let mut body = String::new();
    let mut i = 0;
    while body.len() < 1 << 20 {
        body.push_str(&format!(
            "{{\"id\":{i},\"name\":\"Customer {i}\",\"phone_number\":\"+64 21 555 {:04}\",\
             \"email\":\"customer{i}@example.com\",\"address\":\"{} Queen Street\\nAuckland 1010\",\
             \"country\":\"NZ\",\"job\":\"Software engineer\",\
             \"updated_at\":\"2026-11-24T13:45:01.{:03}Z\",\"op\":\"U\"}}\n",
            i % 10_000,
            i % 500,
            i % 1000
        ));
        i += 1;
    }
    let mut batch = Batch::new(Utc::now());
    fill_batch(&mut batch, &ATTRS, body.as_bytes(), Format::Ndjson).expect("valid NDJSON");
    batch
}

/// The landed lines of `payload`, zstd level 3: the lander's per-frame work, minus file I/O.
fn encode_zstd(payload: &[u8], out: Vec<u8>) -> Vec<u8> {
    encode_zstd_at(payload, out, 3)
}

/// The same at another zstd level (`--compression zstd:LEVEL`).
fn encode_zstd_at(payload: &[u8], out: Vec<u8>, level: i32) -> Vec<u8> {
    let payload = Payload::parse(payload).expect("a packed batch");
    let mut enc = zstd::stream::write::Encoder::new(out, level).expect("zstd");
    enc.include_checksum(true).expect("zstd");
    let mut lines = LineWriter::new("customers", "bench");
    let received_at = format_time(payload.received_at_ms);
    let mut seq = payload.first_seq;
    let mut attrs: &[u8] = b"{}";
    for entry in payload.entries() {
        match entry.expect("well-formed") {
            Entry::Group(a) => attrs = a,
            Entry::Record(r) => {
                enc.write_all(lines.line(r, seq, &received_at, attrs))
                    .expect("in memory");
                seq += 1;
            }
        }
    }
    enc.finish().expect("zstd")
}

fn encode(c: &mut Criterion) {
    let batch = batch();
    let payload = batch.clone().into_payload(1);
    let mut group = c.benchmark_group("encode");
    group.measurement_time(Duration::from_secs(4));
    group.sample_size(20);
    group.throughput(Throughput::Bytes(payload.len() as u64));
    group.bench_function("batch_1MiB_lines_zstd3", |b| {
        b.iter(|| black_box(encode_zstd(black_box(&payload), Vec::with_capacity(1 << 18)).len()))
    });
    // Level 1 against level 3: speed here, compression ratio printed once (docs/performance.md).
    for level in [1, 3] {
        let size = encode_zstd_at(&payload, Vec::new(), level).len();
        eprintln!(
            "encode: zstd level {level}: {} bytes of packed batch -> {size} bytes",
            payload.len()
        );
    }
    group.bench_function("batch_1MiB_lines_zstd1", |b| {
        b.iter(|| {
            black_box(encode_zstd_at(black_box(&payload), Vec::with_capacity(1 << 18), 1).len())
        })
    });

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let mut stream = StreamConfig::new("customers");
    stream.ack = AckMode::Received;
    let config = LandingConfig {
        spool_dir: dir.path().join("spool"),
        instance: "bench".into(),
        spool_max_bytes: 1 << 30,
        streams: vec![stream],
    };
    let sink = LocalSink::new(dir.path().join("landing")).expect("sink");
    let landing = rt
        .block_on(async { Landing::start(config, Arc::new(sink)) })
        .expect("landing starts");
    group.bench_function("flush_1MiB_batch_to_local_sink", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                rt.block_on(landing.append("customers", batch.clone()))
                    .expect("appended");
                let start = Instant::now();
                rt.block_on(landing.flush());
                spent += start.elapsed();
            }
            spent
        })
    });
    rt.block_on(landing.shutdown());
    group.finish();
}

criterion_group!(benches, encode);
criterion_main!(benches);
