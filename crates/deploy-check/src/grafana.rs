//! The Grafana dashboard (deploy/grafana/dashboard.json) and its provisioning: what Grafana
//! would load wrongly or silently show empty (a panel without a query, a query against a
//! datasource uid that is not provisioned, panels off the 24-column grid, duplicate ids).

use std::collections::BTreeSet;

use regex::Regex;
use serde_json::Value;

use crate::{CheckError, Problem, problem};

/// Panel types the dashboard may use (Grafana's built-in panel plugins).
const PANEL_TYPES: &[&str] = &[
    "timeseries",
    "stat",
    "gauge",
    "table",
    "bargauge",
    "text",
    "row",
];

/// Checks a dashboard against the datasource uids that provisioning creates.
pub fn check_dashboard(
    json: &str,
    datasource_uids: &BTreeSet<String>,
) -> Result<Vec<Problem>, CheckError> {
    let doc: Value = serde_json::from_str(json)?;
    let mut out = Vec::new();
    for key in ["uid", "title"] {
        if doc
            .get(key)
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            problem(&mut out, format!("dashboard has no `{key}`"));
        }
    }
    if doc.get("schemaVersion").and_then(Value::as_u64).is_none() {
        problem(&mut out, "dashboard has no numeric `schemaVersion`");
    }
    let panels = doc
        .get("panels")
        .and_then(Value::as_array)
        .ok_or_else(|| CheckError::Shape("no `panels` array".into()))?;
    if panels.is_empty() {
        problem(&mut out, "dashboard has no panels");
    }
    let mut ids = BTreeSet::new();
    for (i, p) in panels.iter().enumerate() {
        let title = p.get("title").and_then(Value::as_str).unwrap_or("");
        let at = format!("panel {i} ({title:?})");
        match p.get("id").and_then(Value::as_u64) {
            Some(id) if !ids.insert(id) => problem(&mut out, format!("{at}: duplicate id {id}")),
            Some(_) => {}
            None => problem(&mut out, format!("{at}: no numeric id")),
        }
        let ty = p.get("type").and_then(Value::as_str).unwrap_or("");
        if !PANEL_TYPES.contains(&ty) {
            problem(&mut out, format!("{at}: unknown panel type {ty:?}"));
        }
        let grid = |k: &str| {
            p.get("gridPos")
                .and_then(|g| g.get(k))
                .and_then(Value::as_u64)
        };
        match (grid("x"), grid("y"), grid("w"), grid("h")) {
            (Some(x), Some(_), Some(w), Some(h)) if w > 0 && h > 0 && x + w <= 24 => {}
            _ => problem(
                &mut out,
                format!("{at}: gridPos must have x, y, w, h with x + w ≤ 24"),
            ),
        }
        if ty == "row" || ty == "text" {
            continue;
        }
        let targets = p.get("targets").and_then(Value::as_array);
        if targets.is_none_or(Vec::is_empty) {
            problem(&mut out, format!("{at}: no query (targets)"));
        }
        for t in targets.into_iter().flatten() {
            if t.get("expr")
                .and_then(Value::as_str)
                .is_none_or(|e| e.trim().is_empty())
            {
                problem(&mut out, format!("{at}: a target has no PromQL `expr`"));
            }
            let uid = t
                .get("datasource")
                .or_else(|| p.get("datasource"))
                .and_then(|d| d.get("uid"))
                .and_then(Value::as_str);
            match uid {
                Some(u) if datasource_uids.contains(u) => {}
                other => problem(
                    &mut out,
                    format!(
                        "{at}: datasource uid {other:?} is not provisioned ({datasource_uids:?})"
                    ),
                ),
            }
        }
    }
    Ok(out)
}

/// The datasource uids a provisioning file (`apiVersion: 1`, `datasources:`) creates.
pub fn provisioned_datasource_uids(yaml: &str) -> Result<BTreeSet<String>, CheckError> {
    let doc: Value = serde_norway::from_str(yaml)?;
    let list = doc
        .get("datasources")
        .and_then(Value::as_array)
        .ok_or_else(|| CheckError::Shape("no `datasources` list".into()))?;
    Ok(list
        .iter()
        .filter_map(|d| d.get("uid").and_then(Value::as_str).map(str::to_owned))
        .collect())
}

/// Every `snowstream_…` metric name the dashboard's queries use.
pub fn dashboard_metric_names(json: &str) -> Result<BTreeSet<String>, CheckError> {
    let doc: Value = serde_json::from_str(json)?;
    let re = Regex::new(r"\bsnowstream_[a-z0-9_]+").expect("valid regex");
    let mut names = BTreeSet::new();
    for p in doc
        .get("panels")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for t in p
            .get("targets")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(e) = t.get("expr").and_then(Value::as_str) {
                names.extend(re.find_iter(e).map(|m| m.as_str().to_owned()));
            }
        }
    }
    Ok(names)
}
