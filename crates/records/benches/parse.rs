//! Parse throughput of the front doors' hot path: content → records packed into a [`Batch`]
//! (`records::fill_batch`), for one JSON record (the single-record POST), an NDJSON body and
//! a CSV body. `cargo bench -p records --bench parse`; under `cargo test --benches` each
//! benchmark runs once, as a smoke test.

use std::hint::black_box;

use chrono::Utc;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use records::{Batch, Format, fill_batch};

/// FlowFile attributes as a ListenHTTP request carries them.
const ATTRS: [(&str, &str); 5] = [
    ("filename", "6f1c2a8e-1b7d-4a57-9d7e-000000000001"),
    ("path", "./"),
    ("uuid", "6f1c2a8e-1b7d-4a57-9d7e-000000000001"),
    ("mime.type", "application/json"),
    ("restlistener.remote.source.host", "127.0.0.1"),
];

/// The benchmark's generator's customers (contract 2, ~275 bytes each as NDJSON), so the
/// parser sees the strings, escapes and numbers of real records rather than a template.
fn customers(count: usize) -> Vec<generator::Customer> {
    let cfg = generator::Config {
        seed: 42,
        changes: count as u64,
        ..generator::Config::clean()
    };
    generator::Generator::new(cfg).take(count).collect()
}

/// As many whole records in `format` as fit in `bytes` (CSV with its header line).
fn body(format: Format, bytes: usize) -> Vec<u8> {
    let all = customers(bytes / 100);
    let encode =
        |n: usize| generator::encode_batch(&all[..n], generator::Format::Records(format)).0;
    // The largest count that fits: bodies grow with the count.
    let (mut fits, mut too_many) = (1, all.len());
    while too_many - fits > 1 {
        let mid = (fits + too_many) / 2;
        if encode(mid).len() <= bytes {
            fits = mid;
        } else {
            too_many = mid;
        }
    }
    encode(fits)
}

fn bench_fill(c: &mut Criterion, name: &str, content: &[u8], format: Format) {
    let mut group = c.benchmark_group("fill_batch");
    group.throughput(Throughput::Bytes(content.len() as u64));
    group.bench_function(name, |b| {
        b.iter(|| {
            let mut batch = Batch::new(Utc::now());
            let n = fill_batch(&mut batch, &ATTRS, black_box(content), format).expect("valid");
            black_box((n, batch.into_bytes()))
        })
    });
    group.finish();
}

fn parse(c: &mut Criterion) {
    // One object, as a single-record POST carries it (an NDJSON line without its newline).
    let (line, _) =
        generator::encode_batch(&customers(1), generator::Format::Records(Format::Ndjson));
    let single = line.strip_suffix(b"\n").expect("an NDJSON line");
    bench_fill(c, "json_single_record", single, Format::Json);
    bench_fill(
        c,
        "ndjson_256KiB",
        &body(Format::Ndjson, 256 * 1024),
        Format::Ndjson,
    );
    bench_fill(c, "csv_256KiB", &body(Format::Csv, 256 * 1024), Format::Csv);
}

criterion_group!(benches, parse);
criterion_main!(benches);
