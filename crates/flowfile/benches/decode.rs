//! Criterion-free throughput check: `cargo bench -p flowfile`.
//! Decodes in-memory streams fed in 64 KiB chunks, like HTTP body frames, and prints MB/s.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use flowfile::{Decoder, Event, Limits, Version, encode};

fn stream(count: usize, content_len: usize) -> Vec<u8> {
    let content: Vec<u8> = (0..content_len).map(|i| (i % 251) as u8).collect();
    let mut out = Vec::new();
    for i in 0..count {
        let uuid = format!("6f1c2a8e-1b7d-4a57-9d7e-{i:012}");
        let attrs = [
            ("filename", "customers.ndjson"),
            ("path", "./"),
            ("uuid", uuid.as_str()),
            ("mime.type", "application/json"),
        ];
        encode(Version::V3, &attrs, &content, &mut out);
    }
    out
}

fn decode(data: &[u8], chunk: usize) -> (u64, u64) {
    let mut decoder = Decoder::new(Version::V3, Limits::default());
    let mut buf = BytesMut::with_capacity(chunk);
    let mut content_bytes = 0u64;
    for piece in data.chunks(chunk) {
        buf.extend_from_slice(piece);
        while let Some(event) = decoder.decode(&mut buf).expect("valid stream") {
            if let Event::Content(bytes) = event {
                content_bytes += black_box(bytes).len() as u64;
            }
        }
    }
    decoder.finish(&buf).expect("complete stream");
    (decoder.flowfiles_decoded(), content_bytes)
}

fn bench(name: &str, data: &[u8]) {
    let mut runs = 0u32;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(2) {
        black_box(decode(black_box(data), 64 * 1024));
        runs += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    let mb = data.len() as f64 * f64::from(runs) / 1e6;
    println!(
        "{name:<40} {:>8.0} MB/s ({runs} runs of {} bytes)",
        mb / secs,
        data.len()
    );
}

fn main() {
    bench("1 MiB FlowFiles x 64", &stream(64, 1 << 20));
    bench("16 KiB FlowFiles x 4096", &stream(4096, 16 << 10));
    bench(
        "200 B FlowFiles x 100k (header-bound)",
        &stream(100_000, 200),
    );
}
