//! Test helpers: landed files in the contract-1 format, customer change events, and an
//! independent reference for contract 3 (sort all versions per key).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

/// One customer change event (contract 2).
#[derive(Debug, Clone)]
pub struct Event {
    pub id: i64,
    pub name: String,
    pub millis: i64,
    pub op: &'static str,
}

impl Event {
    pub fn new(id: i64, name: &str, millis: i64, op: &'static str) -> Self {
        Event {
            id,
            name: name.to_string(),
            millis,
            op,
        }
    }

    pub fn updated_at(&self) -> String {
        let base = chrono::DateTime::parse_from_rfc3339("2026-11-24T13:00:00.000Z").unwrap();
        let t = base + chrono::Duration::milliseconds(self.millis);
        t.with_timezone(&chrono::Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    }

    pub fn record(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "phone_number": format!("+1-555-{:04}", self.id),
            "email": format!("{}@example.com", self.name.to_lowercase()),
            "address": format!("{} Main St\nSpringfield", self.id),
            "country": "NZ",
            "job": "Engineer",
            "updated_at": self.updated_at(),
            "op": self.op,
        })
    }
}

/// Writes a landed data file `{root}/customers/dt=…/hh=…/{instance}-{first_seq:020}.ndjson.zst`
/// (or `.gz`) plus its manifest and a temp file that must be ignored. Returns the path.
pub fn land(root: &Path, instance: &str, first_seq: u64, events: &[Event], gzip: bool) -> PathBuf {
    let dir = root.join("customers/dt=2026-11-24/hh=13");
    std::fs::create_dir_all(&dir).unwrap();
    let mut text = String::new();
    for (i, e) in events.iter().enumerate() {
        let line = json!({
            "record": e.record(),
            "meta": {"stream": "customers", "instance": instance, "seq": first_seq + i as u64,
                     "received_at": "2026-11-24T13:45:01.123Z", "attributes": {}},
        });
        text.push_str(&line.to_string());
        text.push('\n');
    }
    let ext = if gzip { "ndjson.gz" } else { "ndjson.zst" };
    let name = format!("{instance}-{first_seq:020}.{ext}");
    let bytes = if gzip {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(text.as_bytes()).unwrap();
        enc.finish().unwrap()
    } else {
        zstd::encode_all(text.as_bytes(), 3).unwrap()
    };
    let path = dir.join(&name);
    std::fs::write(&path, &bytes).unwrap();
    let manifest = json!({"key": format!("customers/dt=2026-11-24/hh=13/{name}"),
        "stream": "customers", "instance": instance, "records": events.len()});
    std::fs::write(
        dir.join(format!("{name}.manifest.json")),
        manifest.to_string(),
    )
    .unwrap();
    // A half-written temp file the pipe must never pick up.
    std::fs::write(dir.join(format!(".{name}.tmp")), b"garbage").unwrap();
    path
}

/// Contract 3 computed the simple way: all versions of a key sorted by event time.
pub struct Reference {
    pub latest: Vec<Map<String, Value>>,
    pub history: Vec<Map<String, Value>>,
}

pub fn reference(events: &[Event]) -> Reference {
    let mut by_key: BTreeMap<i64, BTreeMap<String, Value>> = BTreeMap::new();
    for e in events {
        // Equal (id, updated_at) is an exact duplicate (contract 2): keep one.
        by_key
            .entry(e.id)
            .or_default()
            .insert(e.updated_at(), e.record());
    }
    let mut latest = Vec::new();
    let mut history = Vec::new();
    for versions in by_key.values() {
        let list: Vec<(&String, &Value)> = versions.iter().collect();
        for (i, (ts, rec)) in list.iter().enumerate() {
            let mut row = rec.as_object().unwrap().clone();
            let deleted = rec["op"] == "D";
            row.insert("is_deleted".into(), json!(deleted));
            if i + 1 == list.len() {
                latest.push(row.clone());
            }
            row.insert("valid_from".into(), json!(ts));
            let next = list
                .get(i + 1)
                .map(|(t, _)| json!(t))
                .unwrap_or(Value::Null);
            row.insert("is_current".into(), json!(next.is_null()));
            row.insert("valid_to".into(), next);
            history.push(row);
        }
    }
    Reference { latest, history }
}

/// Deterministic pseudo-random numbers (no external crate; reproducible by seed).
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A random change stream: inserts, updates, deletes, re-inserts, with exact duplicates,
/// shuffled delivery (late and reordered events). Returns events in delivery order.
pub fn random_events(seed: u64, keys: i64, per_key: i64) -> Vec<Event> {
    let mut rng = Lcg(seed);
    let mut events = Vec::new();
    for id in 1..=keys {
        let mut t = rng.below(1000) as i64;
        let mut alive = false;
        for v in 0..per_key {
            t += 1 + rng.below(5000) as i64;
            let op = if !alive {
                "I"
            } else if rng.below(4) == 0 {
                "D"
            } else {
                "U"
            };
            alive = op != "D";
            events.push(Event::new(id, &format!("C{id}v{v}"), t, op));
        }
    }
    // Exact duplicates of about a fifth of the events.
    let dups: Vec<Event> = events
        .iter()
        .filter(|_| rng.below(5) == 0)
        .cloned()
        .collect();
    events.extend(dups);
    // Fisher–Yates shuffle: arbitrary delivery order.
    for i in (1..events.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        events.swap(i, j);
    }
    events
}
