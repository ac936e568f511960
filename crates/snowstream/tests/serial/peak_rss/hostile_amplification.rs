//! Amplification attacks over real HTTP, with the default limits: small requests that expand
//! to gigabytes (a wide CSV header over many rows, many empty FlowFiles, large attributes
//! repeated on every landed line) get 413 naming the limit, the process's peak RSS stays
//! bounded, and nothing of them is spooled or landed.
//!
//! One test in this binary on purpose: peak RSS (`VmHWM`) is per process, so no other test
//! may run beside it. The peak is reset before each attack by writing `5` to
//! `/proc/self/clear_refs` (Linux ≥ 4.0, proc(5)).
//!
//! (Now in the `serial` binary, where [`crate::alone`] keeps every other test from running
//! beside it.)

use crate::support::receiver::{self, Reply, TestServer, gzip, package, post_as};
use flowfile::Version;

/// The process's peak resident set since the last reset, in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status");
    kb << 10
}

/// Current resident set, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status");
    kb << 10
}

/// Resets the peak to the current resident set.
fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").expect("reset VmHWM via /proc/self/clear_refs");
}

/// Sends one attack, returning the reply and how far the peak RSS rose above the resident set
/// before it.
async fn attack(send: impl std::future::Future<Output = Reply>) -> (Reply, u64) {
    reset_peak();
    let before = rss();
    let reply = send.await;
    (reply, peak_rss().saturating_sub(before))
}

const MIB: u64 = 1 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_requests_that_expand_are_refused_with_bounded_memory() {
    let _alone = crate::alone();
    let s = TestServer::start_with(|setup| setup.spool_max_bytes = 4 << 30).await;
    let limit = s.landing.clone();
    let default_max = server::ServerConfig::default().max_request_bytes;
    assert_eq!(
        default_max,
        256 * MIB,
        "the attacks run against the default limit"
    );
    // Warm up the server and client (first request allocations) before measuring.
    let warm = post_as(&s, receiver::NDJSON, &[], "{\"id\":0}\n").await;
    assert_eq!(warm.status, 200, "{}", warm.text);

    // 1. A wide CSV header over many rows: every row repeats the 8 KiB header name.
    let mut csv = "k".repeat(8 << 10).into_bytes();
    csv.extend_from_slice(&b"\nx".repeat(200_000));
    let body = gzip(&csv);
    assert!(body.len() < 2048, "a tiny request: {} bytes", body.len());
    let (r, csv_peak) = attack(post_as(
        &s,
        "text/csv",
        &[("content-encoding", "gzip")],
        body,
    ))
    .await;
    assert_eq!(r.status, 413, "{}", r.text);
    assert!(r.text.contains("--max-request-size"), "{}", r.text);

    // 2. 300,000 empty FlowFiles in one gzip'd package.
    let attrs: &[(&str, &str)] = &[("filename", "e")];
    let one = package(Version::V3, &[(attrs, b"")]);
    let body = gzip(&one.repeat(300_000));
    assert!(body.len() < 64 << 10, "{} bytes", body.len());
    let (r, empty_peak) = attack(post_as(
        &s,
        "application/flowfile-v3",
        &[("flowfile-gzipped", "true")],
        body,
    ))
    .await;
    assert_eq!(r.status, 413, "{}", r.text);
    assert!(r.text.contains("--max-flowfiles-per-request"), "{}", r.text);

    // 3. One FlowFile with 2 MiB of attributes and 20,000 tiny records.
    let big = "v".repeat(2 << 20);
    let records = "{}\n".repeat(20_000);
    let attrs: &[(&str, &str)] = &[("filename", "a.ndjson"), ("big", &big)];
    let body = gzip(&package(Version::V3, &[(attrs, records.as_bytes())]));
    let (r, attrs_peak) = attack(post_as(
        &s,
        "application/flowfile-v3",
        &[("flowfile-gzipped", "true")],
        body,
    ))
    .await;
    assert_eq!(r.status, 413, "{}", r.text);
    assert!(r.text.contains("--max-attribute-bytes"), "{}", r.text);

    // 3b. The same under the attribute limit (60 KiB) still expands to 1.2 GB once landed.
    let big = "v".repeat(60 << 10);
    let attrs: &[(&str, &str)] = &[("filename", "a.ndjson"), ("big", &big)];
    let body = gzip(&package(Version::V3, &[(attrs, records.as_bytes())]));
    let (r, lines_peak) = attack(post_as(
        &s,
        "application/flowfile-v3",
        &[("flowfile-gzipped", "true")],
        body,
    ))
    .await;
    assert_eq!(r.status, 413, "{}", r.text);
    assert!(r.text.contains("--max-request-size"), "{}", r.text);

    println!(
        "peak RSS rise: wide CSV {} MiB, 300k empty FlowFiles {} MiB, 256 KiB attributes {} MiB, \
         60 KiB attributes x 20k records {} MiB",
        csv_peak / MIB,
        empty_peak / MIB,
        attrs_peak / MIB,
        lines_peak / MIB
    );
    // Before: 1.58 GiB for the CSV. Now at most the request limit, with room for the
    // allocator's growth of the batch buffer and the decompressed body beside it.
    for (name, peak) in [
        ("wide CSV", csv_peak),
        ("empty FlowFiles", empty_peak),
        ("large attributes", attrs_peak),
        ("attributes x records", lines_peak),
    ] {
        assert!(
            peak < default_max + 128 * MIB,
            "{name}: peak RSS rose {} MiB",
            peak / MIB
        );
    }
    // The empty FlowFiles and the over-limit attributes are refused while decoding, long
    // before the limit.
    assert!(empty_peak < 128 * MIB, "{} MiB", empty_peak / MIB);
    assert!(attrs_peak < 64 * MIB, "{} MiB", attrs_peak / MIB);

    // Nothing of the attacks is spooled or landed: only the warm-up record.
    let landed = s.landed().await;
    assert_eq!(landed.len(), 1, "only the warm-up record landed");
    assert_eq!(limit.spool_bytes(), 0);
    let landed_bytes: u64 = walk(s.landing_dir());
    assert!(landed_bytes < 64 << 10, "{landed_bytes} bytes landed");
}

/// Total bytes of the files under `dir`.
fn walk(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let meta = entry.metadata().expect("metadata");
        total += if meta.is_dir() {
            walk(&entry.path())
        } else {
            meta.len()
        };
    }
    total
}
