//! Comparing the local tables with an oracle file (`snowstream-gen … --expect FILE`).

use serde_json::{Map, Value};

use crate::Error;

/// Most differences listed before the rest are summarized.
const MAX_LISTED: usize = 10;

/// Differences between `latest`/`history` rows and the oracle's NDJSON text, as readable
/// lines; empty when they agree.
pub(super) fn diff(
    latest: &[Map<String, Value>],
    history: &[Map<String, Value>],
    oracle_ndjson: &str,
) -> Result<Vec<String>, Error> {
    let (mut want_latest, mut want_history) = (Vec::new(), Vec::new());
    for (i, line) in oracle_ndjson.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(line)
            .map_err(|e| Error::Oracle(format!("line {}: not JSON: {e}", i + 1)))?;
        let row = v
            .get("row")
            .and_then(Value::as_object)
            .cloned()
            .ok_or_else(|| Error::Oracle(format!("line {}: no \"row\" object", i + 1)))?;
        match v.get("table").and_then(Value::as_str) {
            Some("latest") => want_latest.push(row),
            Some("history") => want_history.push(row),
            other => {
                return Err(Error::Oracle(format!(
                    "line {}: unknown table {other:?}",
                    i + 1
                )));
            }
        }
    }
    let mut out = Vec::new();
    compare("latest", latest, &want_latest, &mut out);
    compare("history", history, &want_history, &mut out);
    Ok(out)
}

fn compare(
    table: &str,
    got: &[Map<String, Value>],
    want: &[Map<String, Value>],
    out: &mut Vec<String>,
) {
    if got.len() != want.len() {
        out.push(format!(
            "{table}: {} rows, oracle has {}",
            got.len(),
            want.len()
        ));
    }
    let mut differing = 0usize;
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        // Compare on the oracle's columns only.
        let g: Map<String, Value> = w
            .keys()
            .map(|k| (k.clone(), g.get(k).cloned().unwrap_or(Value::Null)))
            .collect();
        if &g != w {
            differing += 1;
            if differing <= MAX_LISTED {
                out.push(format!(
                    "{table} row {}: got {}, oracle {}",
                    i + 1,
                    Value::Object(g),
                    Value::Object(w.clone())
                ));
            }
        }
    }
    if differing > MAX_LISTED {
        out.push(format!(
            "{table}: {} more differing rows",
            differing - MAX_LISTED
        ));
    }
}
