//! docker-compose.yml structure: the things `docker compose up` would trip over at run time
//! and that the Compose JSON schema cannot see (cross-references, secrets, pinned images).

use crate::{CheckError, Problem, problem};
use regex::Regex;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Services the stack must have, each with a healthcheck when marked.
const REQUIRED: &[(&str, bool)] = &[
    ("nifi", true),
    ("snowstream", true),
    ("generator", false),
    ("s3", true),
    ("prometheus", true),
    ("grafana", true),
];

pub(crate) fn interpolations(text: &str) -> BTreeSet<String> {
    // `${NAME}`, `${NAME:-x}`, `${NAME-x}`, `${NAME:?msg}`; `$${...}` is an escaped dollar.
    let re = Regex::new(r"(\$+)\{([A-Za-z_][A-Za-z0-9_]*)").expect("valid regex");
    re.captures_iter(text)
        .filter(|c| c[1].len() % 2 == 1)
        .map(|c| c[2].to_string())
        .collect()
}

fn secret_like(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    [
        "PASSWORD",
        "SECRET",
        "TOKEN",
        "ACCESS_KEY",
        "PRIVATE_KEY",
        "PROPS_KEY",
    ]
    .iter()
    .any(|w| n.contains(w))
}

/// The `services` map of a parsed compose file.
/// A service's `environment`, as a map or a `KEY=VALUE` list: each variable with its value,
/// or `None` when it has none (`KEY:` or a bare `KEY`, passed through from the host).
pub(crate) fn environment(svc: &Value) -> BTreeMap<String, Option<String>> {
    match svc.get("environment") {
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| {
                let text = match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Null => None,
                    other => Some(other.to_string()),
                };
                (k.clone(), text)
            })
            .collect(),
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .map(|item| match item.split_once('=') {
                Some((k, v)) => (k.to_string(), Some(v.to_string())),
                None => (item.to_string(), None),
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}

pub(crate) fn services(doc: &Value) -> Result<&serde_json::Map<String, Value>, CheckError> {
    doc.get("services")
        .and_then(Value::as_object)
        .ok_or_else(|| CheckError::Shape("no `services` map".into()))
}

/// Checks a compose file. `root` is the directory it lives in (bind-mount sources and build
/// contexts are resolved against it).
pub fn check_compose(yaml: &str, root: &Path) -> Result<Vec<Problem>, CheckError> {
    let doc: Value = serde_norway::from_str(yaml)?;
    let mut out = Vec::new();
    let services = services(&doc)?;
    let declared: BTreeSet<String> = doc
        .get("volumes")
        .and_then(Value::as_object)
        .map(|v| v.keys().cloned().collect())
        .unwrap_or_default();
    let mut used_volumes = BTreeSet::new();

    for (name, needs_health) in REQUIRED {
        match services.get(*name) {
            None => problem(&mut out, format!("service `{name}` is missing")),
            Some(s) if *needs_health && s.get("healthcheck").is_none() => {
                problem(&mut out, format!("service `{name}` has no healthcheck"))
            }
            Some(_) => {}
        }
    }

    for (name, svc) in services {
        let has_health = |n: &str| services.get(n).and_then(|s| s.get("healthcheck")).is_some();
        // image pinned, or built here
        match (svc.get("image").and_then(Value::as_str), svc.get("build")) {
            (None, None) => problem(
                &mut out,
                format!("service `{name}` has neither image nor build"),
            ),
            (Some(img), None) => {
                let tag = img
                    .rsplit_once(':')
                    .map(|(_, t)| t)
                    .filter(|t| !t.contains('/'));
                match tag {
                    None => problem(
                        &mut out,
                        format!("service `{name}`: image `{img}` has no tag (pin a version)"),
                    ),
                    Some("latest") => problem(
                        &mut out,
                        format!("service `{name}`: image `{img}` uses `latest` (pin a version)"),
                    ),
                    Some(_) => {}
                }
            }
            (_, Some(build)) => {
                let ctx = build
                    .as_str()
                    .or_else(|| build.get("context").and_then(Value::as_str))
                    .unwrap_or(".");
                let dockerfile = build
                    .get("dockerfile")
                    .and_then(Value::as_str)
                    .unwrap_or("Dockerfile");
                if !root.join(ctx).join(dockerfile).is_file() {
                    problem(
                        &mut out,
                        format!("service `{name}`: build file {ctx}/{dockerfile} does not exist"),
                    );
                }
            }
        }
        // healthcheck shape
        if let Some(h) = svc
            .get("healthcheck")
            .filter(|h| h.get("disable").and_then(Value::as_bool) != Some(true))
        {
            match h.get("test") {
                Some(Value::Array(a))
                    if a.first()
                        .and_then(Value::as_str)
                        .is_some_and(|s| matches!(s, "CMD" | "CMD-SHELL" | "NONE")) => {}
                Some(Value::String(_)) => {}
                _ => problem(
                    &mut out,
                    format!(
                        "service `{name}`: healthcheck.test must be [\"CMD\", ...], [\"CMD-SHELL\", \"...\"] or a string"
                    ),
                ),
            }
        }
        // depends_on targets exist and their conditions can be met
        match svc.get("depends_on") {
            Some(Value::Array(list)) => {
                for t in list.iter().filter_map(Value::as_str) {
                    if !services.contains_key(t) {
                        problem(
                            &mut out,
                            format!("service `{name}` depends on unknown service `{t}`"),
                        );
                    }
                }
            }
            Some(Value::Object(map)) => {
                for (t, cond) in map {
                    if !services.contains_key(t) {
                        problem(
                            &mut out,
                            format!("service `{name}` depends on unknown service `{t}`"),
                        );
                    }
                    let c = cond
                        .get("condition")
                        .and_then(Value::as_str)
                        .unwrap_or("service_started");
                    if c == "service_healthy" && !has_health(t) {
                        problem(
                            &mut out,
                            format!(
                                "service `{name}` waits for `{t}` to be healthy, but `{t}` has no healthcheck"
                            ),
                        );
                    }
                    if c == "service_completed_successfully"
                        && services
                            .get(t)
                            .and_then(|s| s.get("restart"))
                            .and_then(Value::as_str)
                            .is_some_and(|r| r != "no")
                    {
                        problem(
                            &mut out,
                            format!(
                                "service `{name}` waits for `{t}` to complete, but `{t}` restarts"
                            ),
                        );
                    }
                }
            }
            _ => {}
        }
        // volumes: named ones declared, bind sources exist
        for v in svc
            .get("volumes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let source = match v {
                Value::String(s) => s.split(':').next().unwrap_or("").to_string(),
                other => other
                    .get("source")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            };
            if source.is_empty() {
                continue;
            }
            if source.starts_with('.') || source.starts_with('/') || source.starts_with('~') {
                if source.starts_with("./") && !root.join(&source).exists() {
                    problem(
                        &mut out,
                        format!("service `{name}`: bind mount source `{source}` does not exist"),
                    );
                }
            } else {
                used_volumes.insert(source.clone());
                if !declared.contains(&source) {
                    problem(
                        &mut out,
                        format!(
                            "service `{name}` uses volume `{source}`, which is not declared under top-level `volumes`"
                        ),
                    );
                }
            }
        }
        // no secrets inline: secret-looking variables must come from the environment (.env)
        for (k, v) in environment(svc) {
            if let Some(text) = v
                && secret_like(&k)
                && interpolations(&text).is_empty()
            {
                problem(
                    &mut out,
                    format!(
                        "service `{name}`: `{k}` has an inline value; take it from .env as ${{{k}}}"
                    ),
                );
            }
        }
    }
    for v in declared.difference(&used_volumes) {
        problem(
            &mut out,
            format!("volume `{v}` is declared but no service mounts it"),
        );
    }
    Ok(out)
}

/// Every variable the compose file interpolates must be documented (as `NAME=`) in .env.example.
pub fn check_env_example(compose_yaml: &str, env_example: &str) -> Vec<Problem> {
    let documented: BTreeSet<String> = env_example
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim().to_string()))
        .collect();
    let mut out = Vec::new();
    for var in interpolations(compose_yaml) {
        if !documented.contains(&var) {
            problem(
                &mut out,
                format!(
                    "docker-compose.yml reads ${{{var}}}, but .env.example does not document it"
                ),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolation_forms_and_escapes() {
        let got = interpolations("${A} ${B:-x} ${C-y} ${D:?m} $${NOT} $$$${ALSO_NOT} $${E}x ${F}");
        let want: BTreeSet<String> = ["A", "B", "C", "D", "F"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(got, want);
    }
}
