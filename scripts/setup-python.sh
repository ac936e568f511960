#!/usr/bin/env bash
# Creates .venv/ with the pinned tools of scripts/requirements-sql.txt (sqlfluff, fakesnow).
# Idempotent and fast on re-run: reinstalls only when the requirements file changed.
set -euo pipefail
cd "$(dirname "$0")/.."
req=scripts/requirements-sql.txt
stamp=.venv/.requirements-sql.sha256
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x .venv/bin/python ]; then
  echo "setup-python: .venv up to date"
  exit 0
fi
python=${PYTHON:-python3}
if ! command -v "$python" >/dev/null; then
  echo "setup-python: $python not found; install Python 3.10+ to run the SQL checks" >&2
  exit 1
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$req"
echo "$want" > "$stamp"
echo "setup-python: installed $(.venv/bin/sqlfluff version | head -1) sqlfluff, fakesnow $(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("fakesnow"))')"
