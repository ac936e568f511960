//! The SCD oracle (contract 3): the SCD1 `latest` and SCD2 `history` state a warehouse must
//! reach after loading a set of change events, whatever order they arrived in.

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

    /// Adds one delivered record. A record with the same `(id, updated_at)` as an earlier
    /// one replaces it (latest delivery wins, as contract 3's tie rule says).
    pub fn push(&mut self, record: &Customer) {
        self.versions
            .entry(record.id)
            .or_default()
            .insert(record.updated_at, record.clone());
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
