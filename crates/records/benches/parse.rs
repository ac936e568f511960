//! Parse throughput of the front doors' hot path: content → records packed into a [`Batch`]
//! (`records::fill_batch`), for one JSON record (the single-record POST), an NDJSON body and
//! a CSV body. `cargo bench -p records --bench parse`; under `cargo test --benches` each
//! benchmark runs once, as a smoke test.

use std::fmt::Write as _;
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

/// One ~250-byte contract-2 customer record, as the benchmark's generator makes them.
fn record(i: usize) -> String {
    format!(
        "{{\"id\":{i},\"name\":\"Customer {i}\",\"phone_number\":\"+64 21 555 {:04}\",\
         \"email\":\"customer{i}@example.com\",\"address\":\"{} Queen Street\\nAuckland 1010\",\
         \"country\":\"NZ\",\"job\":\"Software engineer\",\
         \"updated_at\":\"2026-11-24T13:45:01.{:03}Z\",\"op\":\"U\"}}",
        i % 10_000,
        i % 500,
        i % 1000
    )
}

fn ndjson(bytes: usize) -> String {
    let mut out = String::new();
    let mut i = 0;
    while out.len() < bytes {
        out.push_str(&record(i));
        out.push('\n');
        i += 1;
    }
    out
}

fn csv(bytes: usize) -> String {
    let mut out = String::from("id,name,phone_number,email,address,country,job,updated_at,op\n");
    let mut i = 0;
    while out.len() < bytes {
        writeln!(
            out,
            "{i},Customer {i},+64 21 555 {:04},customer{i}@example.com,\"{} Queen Street\nAuckland 1010\",NZ,Software engineer,2026-11-24T13:45:01.{:03}Z,U",
            i % 10_000,
            i % 500,
            i % 1000
        )
        .expect("write to String");
        i += 1;
    }
    out
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
    bench_fill(c, "json_single_record", record(7).as_bytes(), Format::Json);
    bench_fill(
        c,
        "ndjson_256KiB",
        ndjson(256 * 1024).as_bytes(),
        Format::Ndjson,
    );
    bench_fill(c, "csv_256KiB", csv(256 * 1024).as_bytes(), Format::Csv);
}

criterion_group!(benches, parse);
criterion_main!(benches);
