#!/usr/bin/env bash
# Installs NiFi's own HTTP client libraries and a JDK from Debian's packages, for the
# conformance harness crates/snowstream/tests/it/nifi/java_clients.rs:
#   default-jdk-headless - javac and java (OpenJDK)
#   libhttpclient-java   - Apache HttpClient 4.5 (PostHTTP in NiFi 1.x builds on this line)
#   libokhttp-java       - OkHttp (InvokeHTTP's client; Debian ships 3.x, NiFi 2.x uses 4.x/5.x)
# Idempotent: skips what is already installed. Needs root (apt-get), as CI and the dev machines are.
set -euo pipefail
missing=()
command -v javac >/dev/null || missing+=(default-jdk-headless)
[ -f /usr/share/java/httpclient.jar ] || missing+=(libhttpclient-java)
[ -f /usr/share/java/okhttp.jar ] || missing+=(libokhttp-java)
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-java-clients: javac, HttpClient and OkHttp present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "setup-java-clients: need root to apt-get install ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup-java-clients: installed ${missing[*]} ($(javac -version 2>&1))"
