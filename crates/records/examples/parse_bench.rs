//! Parse throughput of the record parser on ~1 MiB bodies of customer-like records.
//!
//! `cargo run --release -p records --example parse_bench [-- SECONDS]`

use std::time::{Duration, Instant};

use records::{Format, parse};

/// ~1 MiB of customer change events (contract 2), one per line, deterministic.
fn ndjson_body() -> Vec<u8> {
    let mut body = Vec::with_capacity(1 << 20);
    let mut id = 0u64;
    while body.len() < (1 << 20) {
        id += 1;
        let line = format!(
            "{{\"id\":{id},\"name\":\"Customer Name {id}\",\"phone_number\":\"+1-555-{:04}\",\
             \"email\":\"customer{id}@example.com\",\"address\":\"{} Main Street\\nApt {}\\nSpringfield, IL 62704\",\
             \"country\":\"United States\",\"job\":\"Data engineer\",\
             \"updated_at\":\"2026-11-24T13:45:01.{:03}Z\",\"op\":\"U\"}}\n",
            id % 10_000,
            id % 997,
            id % 89,
            id % 1000
        );
        body.extend_from_slice(line.as_bytes());
    }
    body
}

fn csv_body(ndjson: &[u8]) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header_written = false;
    for line in ndjson.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let v: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(line).unwrap();
        if !header_written {
            writer.write_record(v.keys()).unwrap();
            header_written = true;
        }
        writer
            .write_record(v.values().map(|x| match x {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            }))
            .unwrap();
    }
    writer.into_inner().unwrap()
}

fn measure(name: &str, body: &[u8], format: Format, budget: Duration) {
    let start = Instant::now();
    let (mut bytes, mut records, mut emitted) = (0u64, 0u64, 0u64);
    while start.elapsed() < budget {
        records += parse(body, format, &mut |r| emitted += r.len() as u64).unwrap();
        bytes += body.len() as u64;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{name:<22} {:>8.1} MB/s  {:>10.0} records/s  (body {} bytes, {} bytes emitted)",
        bytes as f64 / secs / 1e6,
        records as f64 / secs,
        body.len(),
        emitted
    );
}

fn main() {
    let secs: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let budget = Duration::from_secs_f64(secs);
    let ndjson = ndjson_body();
    let mut array = b"[".to_vec();
    array.extend(
        ndjson
            .trim_ascii_end()
            .split(|&b| b == b'\n')
            .collect::<Vec<_>>()
            .join(&b",\n"[..]),
    );
    array.push(b']');
    let pretty: Vec<u8> = {
        let values: serde_json::Value = serde_json::from_slice(&array).unwrap();
        serde_json::to_vec_pretty(&values).unwrap()
    };
    measure("ndjson", &ndjson, Format::Ndjson, budget);
    measure("ndjson labelled json", &ndjson, Format::Json, budget);
    measure("json array", &array, Format::Json, budget);
    measure("json array, pretty", &pretty, Format::Json, budget);
    measure("csv", &csv_body(&ndjson), Format::Csv, budget);
}
