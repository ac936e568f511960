//! Placeholder secrets cannot survive into a running stack (issue 28): `.env.example` ships
//! `CHANGE-ME-…` values, and compose's `${VAR:?}` rejects only empty ones, so a stack started
//! from the example as is would run NiFi, Grafana or MinIO with passwords anyone can read.
//!
//! The guard is a one-shot service (`preflight`) that receives those variables and exits
//! non-zero when one still holds `CHANGE-ME`; every service a placeholder variable reaches
//! waits for it with `condition: service_completed_successfully`, so `docker compose up`
//! starts none of them. This module checks, from the files, that each placeholder variable of
//! `.env.example` reaching a service is guarded that way: the service depends on such a guard,
//! and that guard receives the variable.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::{CheckError, Problem, problem};

/// What `.env.example` marks as a placeholder.
const PLACEHOLDER: &str = "CHANGE-ME";

/// Variables `.env.example` sets to a placeholder.
pub(crate) fn placeholder_variables(env_example: &str) -> BTreeSet<String> {
    env_example
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .filter(|(_, v)| v.to_ascii_uppercase().contains(PLACEHOLDER))
        .map(|(k, _)| k.trim().to_string())
        .collect()
}

/// Whether a service is a placeholder guard: a one-shot whose command refuses `CHANGE-ME`.
fn is_guard(svc: &Value) -> bool {
    let text = |k: &str| svc.get(k).map(Value::to_string).unwrap_or_default();
    let checks = text("entrypoint").contains(PLACEHOLDER) || text("command").contains(PLACEHOLDER);
    checks && svc.get("restart").and_then(Value::as_str) == Some("no")
}

/// Services a service waits for to complete successfully.
fn completed_dependencies(svc: &Value) -> Vec<&str> {
    svc.get("depends_on")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter(|(_, c)| {
            c.get("condition").and_then(Value::as_str) == Some("service_completed_successfully")
        })
        .map(|(name, _)| name.as_str())
        .collect()
}

/// Checks that every placeholder variable of `.env.example` reaching a service of the compose
/// file passes a guard first.
pub fn check_placeholder_guard(
    compose_yaml: &str,
    env_example: &str,
) -> Result<Vec<Problem>, CheckError> {
    let doc: Value = serde_norway::from_str(compose_yaml)?;
    let services = crate::compose::services(&doc)?;
    let placeholders = placeholder_variables(env_example);
    let mut out = Vec::new();
    let reads = |svc: &Value| crate::compose::interpolations(&svc.to_string());
    for (name, svc) in services {
        if is_guard(svc) {
            continue;
        }
        let guards: Vec<&str> = completed_dependencies(svc)
            .into_iter()
            .filter(|g| services.get(*g).is_some_and(is_guard))
            .collect();
        let guarded: BTreeSet<String> = guards
            .iter()
            .filter_map(|g| services.get(*g))
            .flat_map(reads)
            .collect();
        for var in reads(svc).intersection(&placeholders) {
            if guarded.contains(var) {
                continue;
            }
            let fix = match guards.first() {
                Some(g) => format!("pass `{var}` to `{g}` too"),
                None => "make it wait for a one-shot that refuses CHANGE-ME values \
                         (`depends_on: {preflight: {condition: service_completed_successfully}}`)"
                    .to_string(),
            };
            problem(
                &mut out,
                format!(
                    "service `{name}` reads `{var}`, which .env.example sets to a {PLACEHOLDER} \
                     placeholder that `:?` lets through: {fix}"
                ),
            );
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::placeholder_variables;

    #[test]
    fn placeholders_are_the_change_me_values() {
        let env = "# A=CHANGE-ME\nB=CHANGE-ME-b\nC=plain\nD=nifi:change-me-s3\nE=\n";
        let got: Vec<String> = placeholder_variables(env).into_iter().collect();
        assert_eq!(got, ["B", "D"]);
    }
}
