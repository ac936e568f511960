#!/usr/bin/env bash
# Installs the tools for the live-page and monitoring checks, from Debian's packages:
#   chromium   - headless browser for crates/snowstream/tests/it/app/ui_page.rs (reads /ui's DOM, screenshot)
#   prometheus - ships `promtool`, which scripts/check-deploy.sh runs on deploy/prometheus/*.yml
#   jq, curl   - deploy/nifi/import-flow.sh, which scripts/check-deploy.sh runs against a stand-in
#                of NiFi's REST API (deploy/nifi/check-import-flow.py)
# Idempotent: skips what is already installed. Needs root (apt-get), as CI and the dev machines are.
set -euo pipefail
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v promtool >/dev/null || missing+=(prometheus)
command -v jq >/dev/null || missing+=(jq)
command -v curl >/dev/null || missing+=(curl)
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-ui-tools: chromium, promtool, jq and curl present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "setup-ui-tools: need root to apt-get install ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# prometheus' postinst starts no daemon in a container without systemd; --no-install-recommends keeps it small.
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup-ui-tools: installed ${missing[*]} ($(chromium --version 2>/dev/null || true); $(promtool --version 2>&1 | head -1))"
