//! Peak memory of a large multipart upload (issue 14: "multipart ... with parts streamed to
//! disk and parsed incrementally"). Alone in its test binary: the peak is process-wide.
//!
//! Each part is generated, uploaded and dropped before the next, then the peak-RSS mark is
//! reset (`/proc/self/clear_refs`, Linux >= 4.0) and the Complete runs. Holding the object
//! whole (as Complete did before) takes at least the object's size plus its parsed batch;
//! parsing it chunk by chunk takes a few chunks. The bound asserted is the object's size:
//! generous, and still failed by any whole-object Complete (the old Complete grew by more
//! than twice the object's size: the assembled body plus its batch).
//!
//! (Now in the `serial` binary, where [`crate::alone`] keeps every other test from running
//! beside it.)

use crate::support::s3::*;

const PARTS: usize = 8;
const PART_BYTES: usize = 8 << 20;

/// `(VmHWM, VmRSS)` in bytes.
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib = |field: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{field} in /proc/self/status"))
    };
    (kib("VmHWM:") * 1024, kib("VmRSS:") * 1024)
}

/// Part `n`: whole NDJSON records of ~2 KiB (so attributes repeated per landed line add
/// little to the expanded size), ids continuing from `first`.
fn part_body(first: usize) -> (Vec<u8>, usize) {
    let pad = "p".repeat(2000);
    let mut body = Vec::with_capacity(PART_BYTES + 4096);
    let mut id = first;
    while body.len() < PART_BYTES {
        body.extend_from_slice(format!("{{\"id\":{id},\"pad\":\"{pad}\"}}\n").as_bytes());
        id += 1;
    }
    (body, id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completing_a_64_mib_upload_stays_under_its_size_in_memory() {
    let _alone = crate::alone();
    // 4 MiB chunks (default 8): a Complete keeps up to five chunks' worth, so the bound below
    // has room to spare while a whole-object Complete still fails it by far.
    let t = start(|s| s.s3.complete_chunk_bytes = 4 << 20).await;
    let c = t.client();
    let key = "mp/big.ndjson";
    let id = create_upload(&c, "raw", key).await;
    let (mut parts, mut next, mut total) = (Vec::new(), 0, 0);
    for n in 1..=PARTS as i32 {
        let (body, after) = part_body(next);
        next = after;
        total += body.len();
        parts.push(upload_part(&c, "raw", key, &id, n, body).await);
    }
    if std::fs::write("/proc/self/clear_refs", "5").is_err() {
        eprintln!("cannot reset the peak-RSS mark here; peak not measured");
        return;
    }
    let (_, before) = memory();
    complete_upload(&c, "raw", key, &id, parts)
        .send()
        .await
        .expect("complete");
    let (peak, _) = memory();
    let grew = peak.saturating_sub(before);
    eprintln!(
        "Complete of {} MiB: peak RSS grew by {} MiB",
        total >> 20,
        grew >> 20
    );
    assert!(
        grew < total as u64,
        "peak RSS grew by {grew} bytes completing a {total}-byte object"
    );
    // And every record landed once, in order.
    let lines = t.landed().await;
    let ids: Vec<u64> = records_of(&lines, key)
        .iter()
        .map(|r| r["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids.len(), next);
    assert!(ids.iter().enumerate().all(|(i, id)| i as u64 == *id));
}
