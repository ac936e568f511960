#!/usr/bin/env bash
# Creates target/s3-clients-venv with boto3 and the AWS CLI (scripts/requirements-s3-clients.txt)
# for the S3 front door's client tests (crates/snowstream/tests/it/s3/clients.rs).
# Idempotent and fast on re-run: reinstalls only when the requirements file changed.
set -euo pipefail
cd "$(dirname "$0")/.."
req=scripts/requirements-s3-clients.txt
venv=target/s3-clients-venv
stamp=$venv/.requirements.sha256
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$venv/bin/python" ]; then
  echo "setup-s3-clients: $venv up to date"
  exit 0
fi
python=${PYTHON:-python3}
if ! command -v "$python" >/dev/null; then
  echo "setup-s3-clients: $python not found; install Python 3.9+ to run the boto3/AWS CLI tests" >&2
  exit 1
fi
mkdir -p target
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
echo "$want" > "$stamp"
echo "setup-s3-clients: installed boto3 $("$venv/bin/python" -c 'import boto3; print(boto3.__version__)'), $("$venv/bin/aws" --version 2>&1)"
