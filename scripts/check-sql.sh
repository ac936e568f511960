#!/usr/bin/env bash
# SQL checks: sqlfluff (snowflake dialect) parses every sql/*.sql, and the SCD1/SCD2 MERGEs
# of sql/ run on fakesnow over a tricky change stream and match the oracle.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-python.sh
.venv/bin/python scripts/check_sql.py
