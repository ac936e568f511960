//! docker-compose.yml as it runs in production, beyond whether it starts (issue 28): what
//! would send demo data into a real bucket, report a service unhealthy forever, or kill
//! snowstream before it lands its spool.
//!
//! - A service that runs the generator (`snowstream-gen`) must sit behind a profile, so a
//!   plain `docker compose up` (and the documented upgrade, `up -d --build`) never starts it.
//! - A service on the snowstream image that is not `serve` inherits the image's HEALTHCHECK
//!   (Dockerfile `HEALTHCHECK`: `snowstream healthcheck` on 127.0.0.1:8080), which nothing
//!   answers there: it must disable it (`healthcheck: {disable: true}`).
//! - Prometheus (no authentication), Grafana (anonymous viewers), the local MinIO's console
//!   (its root user's login) and NiFi's UI are published on the host's loopback unless asked. NiFi's UI answers only a host name its self-signed
//!   certificate names (Jetty's SNI host check; the certificate names `localhost`, the
//!   container's host name and `NIFI_WEB_PROXY_HOST` as they were on the first start), so the
//!   access that always works is an SSH tunnel to the host's `localhost:8443`.
//! - The service running `serve` must be given more than its drain to stop: Docker sends
//!   SIGTERM, then SIGKILL after `stop_grace_period` (10 s by default, "Compose file
//!   reference", services.stop_grace_period), while serve lands open batches for up to
//!   `--shutdown-timeout` (30 s by default). Likewise NiFi, whose image stops it on SIGTERM
//!   with `nifi.sh stop` (apache/nifi `rel/nifi-2.11.0`, `nifi-docker/dockerhub/sh/start.sh`
//!   line 131), which waits up to `graceful.shutdown.seconds=20` (`bootstrap.conf` line 29).

use serde_json::Value;

use crate::{CheckError, Problem, problem};

/// snowstream's default `--shutdown-timeout`, plus time to exit.
const MIN_GRACE_SECS: u64 = 40;
/// NiFi's `graceful.shutdown.seconds`, plus time to exit.
const MIN_NIFI_GRACE_SECS: u64 = 25;

/// Checks a compose file's services for the production rules above.
pub fn check_compose_lifecycle(yaml: &str) -> Result<Vec<Problem>, CheckError> {
    let doc: Value = serde_norway::from_str(yaml)?;
    let mut out = Vec::new();
    let services = crate::compose::services(&doc)?;
    let interpolation = regex::Regex::new(r"\$\{[^}]*\}").expect("valid regex");
    for (name, svc) in services {
        let runs = |what: &str| {
            let text = |k: &str| svc.get(k).map(Value::to_string).unwrap_or_default();
            text("entrypoint").contains(what) || text("command").contains(what)
        };
        let on_image = svc
            .get("image")
            .and_then(Value::as_str)
            .is_some_and(|i| i.starts_with("snowstream:"));
        let profiled = svc
            .get("profiles")
            .and_then(Value::as_array)
            .is_some_and(|p| !p.is_empty());
        if runs("snowstream-gen") && !profiled {
            problem(
                &mut out,
                format!(
                    "service `{name}` runs the generator on every `docker compose up`: put it \
                     behind a profile (e.g. `profiles: [\"demo\"]`) so demo data never reaches \
                     a real bucket"
                ),
            );
        }
        let serves = runs("serve");
        if on_image && !serves {
            let disabled = svc.get("healthcheck").is_some_and(|h| {
                h.get("disable").and_then(Value::as_bool) == Some(true)
                    || h.get("test")
                        .and_then(Value::as_array)
                        .and_then(|t| t.first())
                        .and_then(Value::as_str)
                        == Some("NONE")
            });
            let own = svc.get("healthcheck").and_then(|h| h.get("test")).is_some();
            if !disabled && !own {
                problem(
                    &mut out,
                    format!(
                        "service `{name}` inherits the image's HEALTHCHECK (snowstream \
                         healthcheck on 127.0.0.1:8080), which it does not serve: it would be \
                         unhealthy forever; set `healthcheck: {{disable: true}}`"
                    ),
                );
            }
        }
        let loopback_only = |port: &str| match name.as_str() {
            "prometheus" | "grafana" => true,
            // The UI; ListenHTTP's port stays reachable for producers.
            "nifi" => port.ends_with(":8443"),
            // MinIO's console logs in with the store's root user.
            "s3" => port.ends_with(":9001"),
            _ => false,
        };
        {
            for port in svc
                .get("ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .filter(|p| loopback_only(p))
            {
                // `HOST:CONTAINER` publishes on every interface; `IP:HOST:CONTAINER` on one.
                // Interpolations (`${PORT:-9090}`) count as one part.
                let plain = interpolation.replace_all(port, "X");
                if plain.split(':').count() < 3 {
                    problem(
                        &mut out,
                        format!(
                            "service `{name}` publishes `{port}` on every interface (no \
                             authentication, or for NiFi a certificate that names only the host \
                             names of its first start): bind it to the loopback (`127.0.0.1:…`) \
                             or a variable that defaults to it"
                        ),
                    );
                }
            }
        }
        let nifi = svc
            .get("image")
            .and_then(Value::as_str)
            .is_some_and(|i| i.starts_with("apache/nifi:"))
            && svc.get("entrypoint").is_none();
        if nifi
            && svc
                .get("stop_grace_period")
                .and_then(Value::as_str)
                .and_then(duration_secs)
                .is_none_or(|g| g < MIN_NIFI_GRACE_SECS)
        {
            problem(
                &mut out,
                format!(
                    "service `{name}` runs NiFi without a stop_grace_period of at least \
                     {MIN_NIFI_GRACE_SECS}s: Docker kills it 10 s after SIGTERM by default, \
                     while `nifi.sh stop` waits up to 20 s for a graceful shutdown"
                ),
            );
        }
        if on_image && serves {
            let grace = svc
                .get("stop_grace_period")
                .and_then(Value::as_str)
                .and_then(duration_secs);
            if grace.is_none_or(|g| g < MIN_GRACE_SECS) {
                problem(
                    &mut out,
                    format!(
                        "service `{name}` runs serve without a stop_grace_period of at least \
                         {MIN_GRACE_SECS}s: Docker kills it 10 s after SIGTERM by default, \
                         while it lands its open batches for up to --shutdown-timeout (30 s)"
                    ),
                );
            }
        }
    }
    Ok(out)
}

/// A compose duration (`45s`, `1m30s`, `2m`) in whole seconds.
fn duration_secs(text: &str) -> Option<u64> {
    let mut total = 0u64;
    let mut number = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: u64 = number.parse().ok()?;
        number.clear();
        total += match c {
            'h' => n * 3600,
            'm' => n * 60,
            's' => n,
            _ => return None,
        };
    }
    if !number.is_empty() {
        return None;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::duration_secs;

    #[test]
    fn compose_durations() {
        assert_eq!(duration_secs("45s"), Some(45));
        assert_eq!(duration_secs("1m30s"), Some(90));
        assert_eq!(duration_secs("2m"), Some(120));
        assert_eq!(duration_secs("45"), None);
    }
}
