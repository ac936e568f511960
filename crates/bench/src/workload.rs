//! Request bodies: realistic contract-2 customer records (id, name, phone_number, email,
//! address, country, job, updated_at, op; ~200 bytes as JSON), as single JSON objects and as
//! NDJSON bodies of a fixed size. A small seeded generator of its own keeps the bench
//! independent of the `generator` crate's evolving API; the records follow the same contract.

use bytes::Bytes;

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
    let mut rng = SplitMix(seed);
    let mut records = (1u64..).map(move |n| customer(&mut rng, n));

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

/// A tiny deterministic PRNG (SplitMix64): enough to vary the records, no dependency.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() % from.len() as u64) as usize]
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const FIRST: [&str; 12] = [
    "Olivia",
    "Liam",
    "Emma",
    "Noah",
    "Amelia",
    "Oliver",
    "Sophia",
    "Elijah",
    "Charlotte",
    "James",
    "Mia",
    "Lucas",
];
const LAST: [&str; 12] = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
];
const STREETS: [&str; 8] = [
    "Maple Avenue",
    "Oak Street",
    "Pine Road",
    "Cedar Lane",
    "Elm Drive",
    "Lakeview Court",
    "Hillcrest Boulevard",
    "Sunset Way",
];
const CITIES: [&str; 8] = [
    "Springfield, IL 62704",
    "Portland, OR 97205",
    "Austin, TX 78701",
    "Denver, CO 80202",
    "Madison, WI 53703",
    "Raleigh, NC 27601",
    "Boise, ID 83702",
    "Tucson, AZ 85701",
];
const COUNTRIES: [&str; 6] = [
    "United States",
    "Canada",
    "United Kingdom",
    "Germany",
    "Australia",
    "New Zealand",
];
const JOBS: [&str; 8] = [
    "Data engineer",
    "Registered nurse",
    "Civil engineer",
    "Accountant, chartered",
    "Secondary school teacher",
    "Software developer",
    "Pharmacist",
    "Logistics manager",
];

/// One contract-2 change event as compact JSON (the address has a newline, as the seed's do).
fn customer(rng: &mut SplitMix, n: u64) -> Vec<u8> {
    let (first, last) = (rng.pick(&FIRST), rng.pick(&LAST));
    let millis = 1_767_225_600_000 + n * 250 + rng.below(250);
    let secs = millis / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // 2026-01-01 + days, kept within January..December by a simple day-of-year split.
    let (month, day) = ((days / 28) % 12 + 1, days % 28 + 1);
    let op = ["I", "U", "U", "U", "D"][rng.below(5) as usize];
    let record = serde_json::json!({
        "id": rng.below(50_000) + 1,
        "name": format!("{first} {last}"),
        "phone_number": format!("+1-{:03}-{:03}-{:04}", 200 + rng.below(800), rng.below(1000), rng.below(10_000)),
        "email": format!("{}.{}{}@example.com", first.to_lowercase(), last.to_lowercase(), rng.below(100)),
        "address": format!("{} {}\n{}", 1 + rng.below(9999), rng.pick(&STREETS), rng.pick(&CITIES)),
        "country": rng.pick(&COUNTRIES),
        "job": rng.pick(&JOBS),
        "updated_at": format!(
            "2026-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
            rem / 3600, rem / 60 % 60, rem % 60, millis % 1000
        ),
        "op": op,
    });
    serde_json::to_vec(&record).expect("serializes")
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
