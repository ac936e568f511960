//! The shipped flow loads itself (issue 28): NiFi 2.x reads no setting that loads a flow
//! definition at start, and the UI's upload reads from the browser's computer, so a
//! `docker compose up` that nothing imports for leaves NiFi empty and ListenHTTP closed.
//!
//! The import is a one-shot compose service running `deploy/nifi/import-flow.sh` (NiFi's REST
//! API: upload into the root group, then start it). This module checks, from the files, that:
//! - some service runs that script, on every `up` (no profile) and once (`restart: "no"`, or a
//!   one-shot restarted after its exit 0 would import forever and `service_completed_successfully`
//!   could never be met);
//! - the flow definition it is pointed at (`FLOW_FILE`, through a bind mount) exists;
//! - every `FLOW_PARAM_<name>` it sets is a parameter of that flow, and every sensitive
//!   parameter the flow ships without a value is set (NiFi never exports sensitive values, so
//!   a flow imported without one cannot run: InvokeHTTP would send no token).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::{CheckError, Problem, problem};

/// The script the import service runs.
pub const IMPORT_SCRIPT: &str = "import-flow.sh";
/// The script's default `FLOW_FILE`.
const DEFAULT_FLOW_FILE: &str = "/opt/nifi/flows/snowstream-ingest.flow.json";

/// The host path (relative to `root`) a container path is bind-mounted from, if any.
fn host_path(svc: &Value, container_path: &str, root: &Path) -> Option<PathBuf> {
    let mounts = svc.get("volumes").and_then(Value::as_array)?;
    mounts.iter().find_map(|m| {
        let (source, target) = match m {
            Value::String(s) => {
                let mut parts = s.split(':');
                (parts.next()?.to_string(), parts.next()?.to_string())
            }
            other => (
                other.get("source")?.as_str()?.to_string(),
                other.get("target")?.as_str()?.to_string(),
            ),
        };
        if !source.starts_with('.') {
            return None;
        }
        let rest = container_path.strip_prefix(target.trim_end_matches('/'))?;
        let rest = rest.strip_prefix('/').unwrap_or(rest);
        Some(root.join(source).join(rest))
    })
}

/// Checks that a compose file imports and starts a flow definition that exists, with its
/// sensitive parameters set. `root` is the directory the compose file lives in.
pub fn check_flow_import(yaml: &str, root: &Path) -> Result<Vec<Problem>, CheckError> {
    let doc: Value = serde_norway::from_str(yaml)?;
    let services = crate::compose::services(&doc)?;
    let mut out = Vec::new();
    let importers: Vec<(&String, &Value)> = services
        .iter()
        .filter(|(_, svc)| {
            let text = |k: &str| svc.get(k).map(Value::to_string).unwrap_or_default();
            text("entrypoint").contains(IMPORT_SCRIPT) || text("command").contains(IMPORT_SCRIPT)
        })
        .collect();
    if importers.is_empty() {
        problem(
            &mut out,
            format!(
                "no service runs deploy/nifi/{IMPORT_SCRIPT}: NiFi starts without the flow (it \
                 loads no flow definition by itself) and ListenHTTP never listens"
            ),
        );
    }
    for (name, svc) in importers {
        if svc
            .get("profiles")
            .and_then(Value::as_array)
            .is_some_and(|p| !p.is_empty())
        {
            problem(
                &mut out,
                format!("service `{name}` imports the flow only with a profile: drop `profiles`"),
            );
        }
        if svc.get("restart").and_then(Value::as_str) != Some("no") {
            problem(
                &mut out,
                format!(
                    "service `{name}` is a one-shot: set `restart: \"no\"` (a restart after it \
                     exits would run it again and again)"
                ),
            );
        }
        let env = crate::compose::environment(svc);
        let flow_file = env
            .get("FLOW_FILE")
            .map(|v| v.as_deref().unwrap_or(""))
            .unwrap_or(DEFAULT_FLOW_FILE);
        let Some(host) = host_path(svc, flow_file, root) else {
            problem(
                &mut out,
                format!("service `{name}`: FLOW_FILE `{flow_file}` is not in a bind mount"),
            );
            continue;
        };
        let Ok(text) = std::fs::read_to_string(&host) else {
            problem(
                &mut out,
                format!(
                    "service `{name}`: FLOW_FILE `{flow_file}` is {}, which does not exist",
                    host.display()
                ),
            );
            continue;
        };
        let flow: Value = serde_json::from_str(&text)?;
        out.extend(check_parameters(name, &flow, &env));
    }
    Ok(out)
}

/// `FLOW_PARAM_*` against the flow's parameter contexts.
fn check_parameters(
    name: &str,
    flow: &Value,
    env: &BTreeMap<String, Option<String>>,
) -> Vec<Problem> {
    let mut out = Vec::new();
    let params: Vec<&Value> = flow
        .get("parameterContexts")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|contexts| contexts.values())
        .filter_map(|c| c.get("parameters").and_then(Value::as_array))
        .flatten()
        .collect();
    let param_name = |p: &Value| p.get("name").and_then(Value::as_str).map(str::to_string);
    for key in env.keys() {
        if let Some(param) = key.strip_prefix("FLOW_PARAM_")
            && !params
                .iter()
                .any(|p| param_name(p).as_deref() == Some(param))
        {
            problem(
                &mut out,
                format!("service `{name}` sets `{key}`, but the flow has no parameter `{param}`"),
            );
        }
    }
    for p in params {
        let sensitive = p.get("sensitive").and_then(Value::as_bool) == Some(true);
        let shipped = p
            .get("value")
            .and_then(Value::as_str)
            .is_some_and(|v| !v.is_empty());
        let Some(pname) = param_name(p) else { continue };
        if sensitive && !shipped && !env.contains_key(&format!("FLOW_PARAM_{pname}")) {
            problem(
                &mut out,
                format!(
                    "service `{name}` leaves the sensitive parameter `{pname}` empty (flows ship \
                     none): set `FLOW_PARAM_{pname}` from .env"
                ),
            );
        }
    }
    out
}
