//! Request bodies: contract-2 customer records from the `generator` crate (a clean,
//! endless change stream), as single JSON objects and as NDJSON bodies of a fixed size.
//! Every body is built before any timing starts, so generating never competes with the
//! load loop.

use bytes::Bytes;
use generator::{Config, Format, Generator, encode_batch};

/// One request body and how many records it carries.
#[derive(Debug, Clone)]
pub struct Payload {
    pub body: Bytes,
    pub records: u64,
}

/// Pre-built bodies for both scenarios (built before any timing starts).
pub struct Workload {
    /// One JSON object each (`application/json`).
    pub singles: Vec<Payload>,
    /// NDJSON bodies of at most `body_size` bytes each (`application/x-ndjson`).
    pub bulk: Vec<Payload>,
    /// Mean size of one serialized record, without the newline.
    pub mean_record_bytes: f64,
}

/// Builds `singles` one-record bodies and `bulk_bodies` NDJSON bodies of up to `body_size`
/// bytes, from one deterministic customer change stream.
pub fn build(seed: u64, singles: usize, bulk_bodies: usize, body_size: usize) -> Workload {
    let mut records = records(seed);

    let mut total_bytes = 0u64;
    let mut total_records = 0u64;
    let mut count = |line: &Vec<u8>| {
        total_bytes += line.len() as u64;
        total_records += 1;
    };

    let mut single_bodies = Vec::with_capacity(singles);
    for line in records.by_ref().take(singles) {
        count(&line);
        single_bodies.push(Payload {
            body: Bytes::from(line),
            records: 1,
        });
    }

    let mut bulk = Vec::with_capacity(bulk_bodies);
    let mut pending: Option<Vec<u8>> = None;
    for _ in 0..bulk_bodies {
        let mut body = Vec::with_capacity(body_size);
        let mut n = 0u64;
        loop {
            let line = match pending.take() {
                Some(l) => l,
                None => {
                    let l = records.next().expect("endless stream");
                    count(&l);
                    l
                }
            };
            if body.len() + line.len() + 1 > body_size && n > 0 {
                pending = Some(line);
                break;
            }
            body.extend_from_slice(&line);
            body.push(b'\n');
            n += 1;
        }
        bulk.push(Payload {
            body: Bytes::from(body),
            records: n,
        });
    }

    Workload {
        singles: single_bodies,
        bulk,
        mean_record_bytes: total_bytes as f64 / total_records.max(1) as f64,
    }
}

/// Bodies of the S3 scenarios: small NDJSON objects, and multipart uploads whose parts are
/// each whole NDJSON lines (so the assembled object is valid NDJSON).
pub struct S3Workload {
    pub small: Vec<Payload>,
    pub uploads: Vec<Vec<Payload>>,
}

/// Distinct small objects and distinct multipart uploads to cycle through.
const SMALL_OBJECTS: usize = 2_000;
const DISTINCT_UPLOADS: usize = 2;

/// Builds the small objects (if `small`) of up to `object_size` bytes and the multipart
/// uploads (if `multipart`) of `parts` parts of up to `part_size` bytes, from record streams
/// seeded apart from [`build`]'s.
pub fn build_s3(
    seed: u64,
    small: bool,
    object_size: usize,
    multipart: bool,
    parts: usize,
    part_size: usize,
) -> S3Workload {
    let small = if small {
        build(seed.wrapping_add(1), 0, SMALL_OBJECTS, object_size).bulk
    } else {
        Vec::new()
    };
    let uploads = if multipart {
        let mut all = build(seed.wrapping_add(2), 0, DISTINCT_UPLOADS * parts, part_size)
            .bulk
            .into_iter();
        (0..DISTINCT_UPLOADS)
            .map(|_| all.by_ref().take(parts).collect())
            .collect()
    } else {
        Vec::new()
    };
    S3Workload { small, uploads }
}

impl S3Workload {
    /// One line for the run's header.
    pub fn describe(&self) -> String {
        let n = self.small.len().max(1) as f64;
        let small_bytes: usize = self.small.iter().map(|p| p.body.len()).sum();
        let small_records: u64 = self.small.iter().map(|p| p.records).sum();
        let upload_bytes: usize = self.uploads.iter().flatten().map(|p| p.body.len()).sum();
        let upload_records: u64 = self.uploads.iter().flatten().map(|p| p.records).sum();
        let u = self.uploads.len().max(1) as f64;
        format!(
            "S3 workload: {} small objects of ~{:.0} bytes ({:.1} records each); {} multipart \
             uploads of {} parts, ~{:.1} MiB ({:.0} records) each",
            self.small.len(),
            small_bytes as f64 / n,
            small_records as f64 / n,
            self.uploads.len(),
            self.uploads.first().map_or(0, Vec::len),
            upload_bytes as f64 / u / (1024.0 * 1024.0),
            upload_records as f64 / u
        )
    }
}

/// An endless, deterministic stream of records for `seed`, each as one compact JSON object
/// (the generator's NDJSON encoding, without the newline).
fn records(seed: u64) -> impl Iterator<Item = Vec<u8>> {
    let cfg = Config {
        seed,
        changes: u64::MAX,
        ..Config::clean()
    };
    Generator::new(cfg).map(|record| {
        let (mut line, _) = encode_batch(
            std::slice::from_ref(&record),
            Format::Records(records::Format::Ndjson),
        );
        line.pop(); // the newline
        line
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_bodies_fill_up_to_the_size_and_count_their_lines() {
        let w = build(7, 5, 3, 64 * 1024);
        assert_eq!(w.singles.len(), 5);
        assert_eq!(w.bulk.len(), 3);
        for p in &w.bulk {
            assert!(p.body.len() <= 64 * 1024);
            // Nearly full: the next record (a few hundred bytes) did not fit.
            assert!(p.body.len() > 60 * 1024, "{}", p.body.len());
            let lines = p.body.iter().filter(|&&b| b == b'\n').count() as u64;
            assert_eq!(lines, p.records);
            for line in p.body.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                let v: serde_json::Value = serde_json::from_slice(line).unwrap();
                assert!(v.get("id").is_some() && v.get("updated_at").is_some());
            }
        }
        for s in &w.singles {
            let v: serde_json::Value = serde_json::from_slice(&s.body).unwrap();
            assert!(v.is_object());
        }
        assert!(w.mean_record_bytes > 100.0 && w.mean_record_bytes < 400.0);
    }

    #[test]
    fn s3_uploads_have_the_asked_parts_of_whole_lines() {
        let w = build_s3(7, true, 1024, true, 3, 32 * 1024);
        assert_eq!(w.small.len(), SMALL_OBJECTS);
        for p in &w.small {
            assert!(p.body.len() <= 1024 && p.records >= 2, "{}", p.body.len());
        }
        assert_eq!(w.uploads.len(), DISTINCT_UPLOADS);
        for parts in &w.uploads {
            assert_eq!(parts.len(), 3);
            for p in parts {
                assert!(p.body.ends_with(b"\n"));
                let lines = p.body.iter().filter(|&&b| b == b'\n').count() as u64;
                assert_eq!(lines, p.records);
            }
        }
        let none = build_s3(7, false, 1024, false, 3, 1024);
        assert!(none.small.is_empty() && none.uploads.is_empty());
    }
}
