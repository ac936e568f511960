//! Encoding records into a landed file's bytes: (1) a packed batch of generated customers
//! read back entry by entry, each record written as its landed line
//! (`records::landed::LineWriter`, meta or record envelope) into a zstd stream (level 1, the
//! default, and 3), as the lander's encoder does per spool frame; (2) the whole landing step
//! through the public service: `Landing::flush` of an open batch (seal the spool segment,
//! encode it to zstd, write, fsync and put it in a local sink with its manifest).
//! `cargo bench -p landing --bench encode`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use landing::sink::LocalSink;
use landing::{AckMode, Landing, LandingConfig, StreamConfig};
use records::landed::{Envelope, LineWriter};
use records::{Batch, Format, fill_batch};

const ATTRS: [(&str, &str); 4] = [
    ("filename", "6f1c2a8e-1b7d-4a57-9d7e-000000000001"),
    ("path", "./"),
    ("uuid", "6f1c2a8e-1b7d-4a57-9d7e-000000000001"),
    ("mime.type", "application/x-ndjson"),
];

/// ~1 MiB of the benchmark's generator's customers (contract 2, ~275 bytes each) as NDJSON,
/// packed into one batch: real records compress ~3.6x at zstd level 1, a template ~30x.
fn batch() -> Batch {
    let cfg = generator::Config {
        seed: 42,
        changes: u64::MAX,
        ..generator::Config::clean()
    };
    let mut body = Vec::new();
    for customer in generator::Generator::new(cfg) {
        let (line, _) = generator::encode_batch(
            std::slice::from_ref(&customer),
            generator::Format::Records(Format::Ndjson),
        );
        if body.len() + line.len() > 1 << 20 {
            break;
        }
        body.extend_from_slice(&line);
    }
    let mut batch = Batch::new(Utc::now());
    fill_batch(&mut batch, &ATTRS, &body, Format::Ndjson).expect("valid NDJSON");
    batch
}

/// The landed lines of `payload` in `envelope` form, zstd at `level`: the lander's
/// per-frame work, minus file I/O.
fn encode_zstd(payload: &[u8], out: Vec<u8>, level: i32, envelope: Envelope) -> Vec<u8> {
    let mut enc = zstd::stream::write::Encoder::new(out, level).expect("zstd");
    enc.include_checksum(true).expect("zstd");
    let mut lines = LineWriter::new("customers", "bench").with_envelope(envelope);
    lines
        .write_batch(payload, &mut enc)
        .expect("a packed batch");
    enc.finish().expect("zstd")
}

fn encode(c: &mut Criterion) {
    let batch = batch();
    let payload = batch.clone().into_payload(1);
    let mut group = c.benchmark_group("encode");
    group.measurement_time(Duration::from_secs(4));
    group.sample_size(20);
    group.throughput(Throughput::Bytes(payload.len() as u64));
    // The default (level 1, meta envelope), level 3, and the record envelope; the speed here,
    // the compressed size printed once (docs/performance.md).
    for (level, envelope, name) in [
        (1, Envelope::Meta, "meta"),
        (3, Envelope::Meta, "meta"),
        (1, Envelope::Record, "record"),
    ] {
        let size = encode_zstd(&payload, Vec::new(), level, envelope).len();
        eprintln!(
            "encode: {name} envelope, zstd level {level}: {} bytes of packed batch -> {size} bytes",
            payload.len()
        );
        group.bench_function(format!("batch_1MiB_{name}_zstd{level}"), |b| {
            b.iter(|| {
                let out = Vec::with_capacity(payload.len());
                black_box(encode_zstd(black_box(&payload), out, level, envelope).len())
            })
        });
    }

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
