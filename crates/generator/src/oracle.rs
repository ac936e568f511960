//! The SCD oracle (contract 3): the SCD1 `latest` and SCD2 `history` state a warehouse must
//! reach after loading a set of change events, whatever order they arrived in.
//!
//! Versions of one id are ordered by the total order of `sql/README.md`: `updated_at`, then a
//! delete above another operation at the same `updated_at`, then the other columns' text
//! (bytes) in column order; the greatest version at an `updated_at` is the one kept, so the
//! result never depends on delivery order. [`accept`] types a raw record with the accepted
//! input forms of `sql/README.md` (the same the Snowflake SQL and the local warehouse use),
//! or gives the reason the warehouse records it as a reject.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;

use crate::record::{Customer, EventTime, Op};

/// One `customers_latest` row: the newest version of an id, tombstones included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LatestRow {
    #[serde(flatten)]
    pub record: Customer,
    pub is_deleted: bool,
}

/// One `customers_history` row: one distinct `(id, updated_at)` version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryRow {
    #[serde(flatten)]
    pub record: Customer,
    pub valid_from: EventTime,
    /// The next version's `updated_at`; `None` (JSON null) for the last one.
    pub valid_to: Option<EventTime>,
    pub is_current: bool,
    pub is_deleted: bool,
}

/// Expected SCD state, `latest` sorted by id, `history` by id then `valid_from`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Oracle {
    pub latest: Vec<LatestRow>,
    pub history: Vec<HistoryRow>,
}

/// Builds the oracle incrementally from records in delivery order.
#[derive(Debug, Default)]
pub struct Builder {
    versions: BTreeMap<u64, BTreeMap<EventTime, Customer>>,
}

impl Builder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one delivered record. Of two records with the same `(id, updated_at)` the one
    /// greater in the total order is kept, whichever was delivered first.
    pub fn push(&mut self, record: &Customer) {
        let slot = self.versions.entry(record.id).or_default();
        match slot.get(&record.updated_at) {
            Some(kept) if tie_rank(kept) >= tie_rank(record) => {}
            _ => {
                slot.insert(record.updated_at, record.clone());
            }
        }
    }

    pub fn finish(self) -> Oracle {
        let mut oracle = Oracle::default();
        for versions in self.versions.into_values() {
            let mut it = versions.into_values().peekable();
            while let Some(record) = it.next() {
                let next = it.peek().map(|n| n.updated_at);
                let is_deleted = record.op == Op::Delete;
                if next.is_none() {
                    oracle.latest.push(LatestRow {
                        record: record.clone(),
                        is_deleted,
                    });
                }
                oracle.history.push(HistoryRow {
                    valid_from: record.updated_at,
                    valid_to: next,
                    is_current: next.is_none(),
                    is_deleted,
                    record,
                });
            }
        }
        oracle
    }
}

/// The order of two versions with the same `(id, updated_at)`: a delete first, then the
/// columns after the key (but `updated_at`) compared as text, by bytes.
fn tie_rank(c: &Customer) -> (bool, [&[u8]; 7]) {
    (
        c.op == Op::Delete,
        [
            c.name.as_bytes(),
            c.phone_number.as_bytes(),
            c.email.as_bytes(),
            c.address.as_bytes(),
            c.country.as_bytes(),
            c.job.as_bytes(),
            c.op.code().as_bytes(),
        ],
    )
}

/// Types one raw record (the `record` object of a landed line) with the accepted input
/// forms of `sql/README.md`, or returns the reject reason the warehouse records: the first
/// of `id`, `updated_at` that is missing (absent or null) or not in an accepted form.
/// Ids are integral values: a JSON integer or digits (at most 18), or a number or numeric
/// string with an integral value below 2^53. Times are `YYYY-MM-DD`, `T` or space,
/// `HH:MM:SS`, an optional 1-9 digit fraction (truncated to ms), and `Z`, `+hh:mm`, `+hhmm`
/// or no offset (UTC). The other fields must be strings (`op` one of I, U, D): the oracle
/// models the customers demo.
pub fn accept(record: &serde_json::Value) -> Result<Customer, String> {
    use serde_json::Value;
    let field = |name: &str| record.get(name).filter(|v| !v.is_null());
    let id = field("id").ok_or("id: missing")?;
    let id = integral(id).ok_or("id: not an integer")?;
    let at = field("updated_at").ok_or("updated_at: missing")?;
    let updated_at = at
        .as_str()
        .and_then(event_time)
        .ok_or("updated_at: not a timestamp in an accepted form")?;
    let text = |name: &str| match record.get(name) {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(format!("{name}: the oracle needs a string")),
    };
    Ok(Customer {
        id,
        name: text("name")?,
        phone_number: text("phone_number")?,
        email: text("email")?,
        address: text("address")?,
        country: text("country")?,
        job: text("job")?,
        updated_at,
        op: text("op")?.parse()?,
    })
}

fn integral(v: &serde_json::Value) -> Option<u64> {
    let text = match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let digits = text.strip_prefix('+').unwrap_or(&text);
    if !digits.is_empty() && digits.len() <= 18 && digits.bytes().all(|b| b.is_ascii_digit()) {
        return digits.parse().ok();
    }
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(&text);
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(i) => (&unsigned[..i], Some(&unsigned[i + 1..])),
        None => (unsigned, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
    let numeric = !int.is_empty()
        && all_digits(int)
        && all_digits(frac)
        && exponent.is_none_or(|e| {
            let e = e.strip_prefix(['+', '-']).unwrap_or(e);
            !e.is_empty() && all_digits(e)
        });
    let f: f64 = if numeric {
        text.parse().ok()?
    } else {
        return None;
    };
    ((0.0..9_007_199_254_740_992.0).contains(&f) && f.fract() == 0.0).then_some(f as u64)
}

fn event_time(s: &str) -> Option<EventTime> {
    let (body, offset) = if let Some(b) = s.strip_suffix('Z') {
        (b, 0i64)
    } else {
        let n = s.len();
        let sign_at = [n.checked_sub(6), n.checked_sub(5)]
            .into_iter()
            .flatten()
            .find(|&i| i >= 19 && matches!(s.as_bytes()[i], b'+' | b'-'));
        match sign_at {
            None => (s, 0),
            Some(i) => {
                let off = s[i + 1..].replace(':', "");
                let colon_ok = s.len() - i == 5 || s.as_bytes()[i + 3] == b':';
                if off.len() != 4 || !colon_ok || !off.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                let (h, m): (i64, i64) = (off[..2].parse().ok()?, off[2..].parse().ok()?);
                if h > 23 || m > 59 {
                    return None;
                }
                let minutes = h * 60 + m;
                (
                    &s[..i],
                    if s.as_bytes()[i] == b'-' {
                        -minutes
                    } else {
                        minutes
                    },
                )
            }
        }
    };
    let shape_ok = body.len() >= 19
        && body.is_char_boundary(19)
        && body[..19].bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            10 => b == b'T' || b == b' ',
            13 | 16 => b == b':',
            _ => b.is_ascii_digit(),
        });
    let frac = &body.get(19..)?;
    let frac_ok = frac.is_empty()
        || (frac.len() >= 2
            && frac.len() <= 10
            && frac.starts_with('.')
            && frac[1..].bytes().all(|b| b.is_ascii_digit()));
    if !shape_ok || !frac_ok || &body[17..19] == "60" {
        return None;
    }
    let normalized = format!("{} {}", &body[..10], &body[11..]);
    let t = chrono::NaiveDateTime::parse_from_str(&normalized, "%Y-%m-%d %H:%M:%S%.f").ok()?;
    let utc = t.and_utc() - chrono::Duration::minutes(offset);
    Some(EventTime::from_millis(utc.timestamp_millis()))
}

/// The oracle for `records` (any order; duplicates allowed).
pub fn compute(records: &[Customer]) -> Oracle {
    let mut b = Builder::new();
    for r in records {
        b.push(r);
    }
    b.finish()
}

#[derive(Serialize)]
struct Line<'a, T> {
    table: &'static str,
    row: &'a T,
}

/// Writes `{"table":"latest","row":{…}}` lines (sorted by id), then
/// `{"table":"history","row":{…}}` lines (sorted by id, `valid_from`).
pub fn write_ndjson(oracle: &Oracle, w: impl Write) -> io::Result<()> {
    let mut w = io::BufWriter::new(w);
    for row in &oracle.latest {
        serde_json::to_writer(
            &mut w,
            &Line {
                table: "latest",
                row,
            },
        )?;
        w.write_all(b"\n")?;
    }
    for row in &oracle.history {
        serde_json::to_writer(
            &mut w,
            &Line {
                table: "history",
                row,
            },
        )?;
        w.write_all(b"\n")?;
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// The fixture shared with `scripts/check_sql.py` (fakesnow) and the local warehouse's
    /// tests: `(file, row number, record)` grouped per file, in file-name order.
    fn fixture() -> Vec<Vec<(String, u64, Value)>> {
        let text = include_str!("../../../sql/tests/correctness_fixture.ndjson");
        let mut files: BTreeMap<String, Vec<(String, u64, Value)>> = BTreeMap::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let v: Value = serde_json::from_str(line).unwrap();
            let file = v["file"].as_str().unwrap().to_string();
            let rows = files.entry(file.clone()).or_default();
            let n = rows.len() as u64 + 1;
            rows.push((file, n, v["record"].clone()));
        }
        files.into_values().collect()
    }

    fn expected(table: &str) -> Vec<Value> {
        include_str!("../../../sql/tests/correctness_expected.ndjson")
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|v| v["table"] == table)
            .map(|v| v["row"].clone())
            .collect()
    }

    #[test]
    fn shared_fixture_in_any_delivery_order_gives_the_expected_tables_and_rejects() {
        let files = fixture();
        let mut state = 0x5eed_u64;
        for _ in 0..20 {
            // A seeded Fisher-Yates shuffle of the files (delivery order).
            let mut order: Vec<usize> = (0..files.len()).collect();
            for i in (1..order.len()).rev() {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                order.swap(i, (state >> 33) as usize % (i + 1));
            }
            let mut b = Builder::new();
            let mut rejects = Vec::new();
            for &f in &order {
                for (file, row, rec) in &files[f] {
                    match accept(rec) {
                        Ok(c) => b.push(&c),
                        Err(reason) => rejects.push(json!({"file_name": file,
                            "file_row_number": row, "reason": reason, "record": rec})),
                    }
                }
            }
            let oracle = b.finish();
            let latest: Vec<Value> = oracle
                .latest
                .iter()
                .map(|r| serde_json::to_value(r).unwrap())
                .collect();
            let history: Vec<Value> = oracle
                .history
                .iter()
                .map(|r| serde_json::to_value(r).unwrap())
                .collect();
            rejects.sort_by_key(|r| (r["file_name"].to_string(), r["file_row_number"].as_u64()));
            assert_eq!(latest, expected("latest"), "order {order:?}");
            assert_eq!(history, expected("history"), "order {order:?}");
            assert_eq!(rejects, expected("rejects"), "order {order:?}");
        }
    }

    #[test]
    fn accepted_forms_and_reasons() {
        let rec = |id: Value, t: Value| {
            json!({"id": id, "name": "n", "phone_number": "p", "email": "e", "address": "a",
                   "country": "c", "job": "j", "updated_at": t, "op": "U"})
        };
        let t = json!("2026-11-24T15:45:01.1239+02:00");
        let c = accept(&rec(json!("4.2e1"), t.clone())).unwrap();
        assert_eq!(
            (c.id, c.updated_at.to_string()),
            (42, "2026-11-24T13:45:01.123Z".into())
        );
        assert_eq!(
            accept(&rec(json!(4.5), t.clone())).unwrap_err(),
            "id: not an integer"
        );
        assert_eq!(
            accept(&rec(json!(1), json!("2026-11-24T13:45:01+01"))).unwrap_err(),
            "updated_at: not a timestamp in an accepted form"
        );
        let c = accept(&rec(json!(1), json!("2026-11-24 13:45:01-0130"))).unwrap();
        assert_eq!(c.updated_at.to_string(), "2026-11-24T15:15:01.000Z");
    }
}
