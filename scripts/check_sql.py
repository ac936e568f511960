"""SQL checks for sql/ (run by scripts/check-sql.sh inside .venv).

1. Every sql/*.sql parses with `sqlfluff parse --dialect snowflake` (no unparsable section).
2. Differential test: the SCD1/SCD2 MERGE statements and CREATE TABLEs taken verbatim from
   the committed scripts run on fakesnow, with a table standing in for the stream (fakesnow
   has no streams/tasks/pipes), over the generator's tricky change stream fed in several
   task runs and then replayed; the tables must equal the generator's oracle and an
   independent Python reference. Without the generator (or with
   SNOWSTREAM_SQL_FIXTURE=builtin), sql/tests/tricky_fixture.ndjson.
"""

import datetime as dt
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
SQL = ROOT / "sql"
STANDIN = "SNOWSTREAM.RAW.STREAM_STANDIN"
STREAMS = ["SNOWSTREAM.RAW.CUSTOMERS_RAW_LATEST_STREAM", "SNOWSTREAM.RAW.CUSTOMERS_RAW_HISTORY_STREAM"]


def check_parse():
    bad = []
    for path in sorted(SQL.glob("*.sql")):
        out = subprocess.run(
            [str(ROOT / ".venv/bin/sqlfluff"), "parse", "--dialect", "snowflake", str(path)],
            capture_output=True, text=True,
        )
        text = out.stdout + out.stderr
        if out.returncode != 0 or "unparsable" in text.lower():
            bad.append(path.name)
            print(text[-3000:])
        else:
            print(f"sqlfluff parse ok: {path.name}")
    if bad:
        sys.exit(f"sqlfluff: unparsable SQL in {bad}")


def statement(path, start):
    """The statement of `path` starting with `start`, up to its terminating `;`."""
    text = path.read_text()
    i = text.index(start)
    j = text.index(";\n", i)
    return text[i:j]


def fixture(tmp):
    """(batches of (file name, record) per task run, oracle lines or None)."""
    use_generator = os.environ.get("SNOWSTREAM_SQL_FIXTURE") != "builtin"
    if use_generator and (ROOT / "crates/generator/src/main.rs").exists():
        gen_dir, expect = tmp / "gen", tmp / "expect.ndjson"
        subprocess.run(
            ["cargo", "run", "-q", "-p", "generator", "--bin", "snowstream-gen", "--",
             "files", "--dir", str(gen_dir), "--format", "ndjson", "--seed", "4242",
             "--profile", "tricky", "--count", "600", "--batch", "41",
             "--progress", "none", "--expect", str(expect)],
            check=True, cwd=ROOT,
        )
        files = sorted(p for p in gen_dir.iterdir() if p.name.endswith(".ndjson"))
        per_file = [[(f"customers/{p.name}", json.loads(l)) for l in p.read_text().splitlines() if l.strip()]
                    for p in files]
        oracle = [json.loads(l) for l in expect.read_text().splitlines() if l.strip()]
        print(f"fixture: generator, {len(files)} files, {sum(map(len, per_file))} records")
    else:
        rows = [json.loads(l) for l in (SQL / "tests/tricky_fixture.ndjson").read_text().splitlines() if l.strip()]
        names = sorted({r["file"] for r in rows})
        per_file = [[(r["file"], r["record"]) for r in rows if r["file"] == n] for n in names]
        oracle = None
        print(f"fixture: sql/tests/tricky_fixture.ndjson, {len(rows)} records")
    # Three task runs: versions of one key end up split across runs.
    k = max(1, len(per_file) // 3)
    runs = [sum(per_file[i:i + k], []) for i in range(0, len(per_file), k)]
    return runs, oracle


def reference(records):
    """Contract 3 the simple way: all versions per key sorted by event time."""
    by_key = {}
    for rec in records:
        by_key.setdefault(rec["id"], {})[rec["updated_at"]] = rec
    latest, history = [], []
    for key in sorted(by_key):
        versions = [by_key[key][t] for t in sorted(by_key[key])]
        for i, rec in enumerate(versions):
            nxt = versions[i + 1]["updated_at"] if i + 1 < len(versions) else None
            row = dict(rec, is_deleted=rec["op"] == "D")
            if nxt is None:
                latest.append(dict(row))
            history.append(dict(row, valid_from=rec["updated_at"], valid_to=nxt, is_current=nxt is None))
    return latest, history


def fmt(v):
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%dT%H:%M:%S.") + f"{v.microsecond // 1000:03d}Z"
    if hasattr(v, "as_integer_ratio") and not isinstance(v, (bool, float)):
        return int(v)
    return v


def run_fakesnow(runs):
    import fakesnow
    import snowflake.connector

    merges = [
        statement(SQL / "05_scd1_latest.sql", "MERGE INTO"),
        statement(SQL / "06_scd2_history.sql", "MERGE INTO"),
    ]
    for m, stream in zip(merges, STREAMS):
        assert stream in m, f"{stream} not in the shipped MERGE"
    merges = [m.replace(s, STANDIN) for m, s in zip(merges, STREAMS)]
    tables = [
        statement(SQL / "05_scd1_latest.sql", "CREATE TABLE IF NOT EXISTS"),
        statement(SQL / "06_scd2_history.sql", "CREATE TABLE IF NOT EXISTS"),
    ]
    with fakesnow.patch():
        conn = snowflake.connector.connect(database="SNOWSTREAM", schema="RAW")
        cur = conn.cursor()
        cur.execute("CREATE DATABASE IF NOT EXISTS SNOWSTREAM")
        cur.execute("CREATE SCHEMA IF NOT EXISTS SNOWSTREAM.RAW")
        cur.execute("CREATE SCHEMA IF NOT EXISTS SNOWSTREAM.CORE")
        for t in tables:
            cur.execute(t)
        cur.execute(f"CREATE TABLE {STANDIN} (RECORD VARIANT, META VARIANT, FILE_NAME VARCHAR, FILE_ROW_NUMBER NUMBER(38, 0))")
        cur.execute("CREATE TABLE SNOWSTREAM.RAW.STANDIN_TEXT (RECORD_TEXT VARCHAR, FILE_NAME VARCHAR, FILE_ROW_NUMBER NUMBER(38, 0))")

        def task_run(rows):
            # The stand-in holds exactly the rows a stream would return for this run.
            cur.execute("DELETE FROM SNOWSTREAM.RAW.STANDIN_TEXT")
            cur.execute(f"DELETE FROM {STANDIN}")
            line = {}
            params = []
            for name, rec in rows:
                line[name] = line.get(name, 0) + 1
                params.append((json.dumps(rec), name, line[name]))
            cur.executemany("INSERT INTO SNOWSTREAM.RAW.STANDIN_TEXT VALUES (%s, %s, %s)", params)
            cur.execute(f"INSERT INTO {STANDIN} SELECT PARSE_JSON(RECORD_TEXT), NULL, FILE_NAME, FILE_ROW_NUMBER FROM SNOWSTREAM.RAW.STANDIN_TEXT")
            for m in merges:
                cur.execute(m)

        def read(table, order):
            cur.execute(f"SELECT * FROM SNOWSTREAM.CORE.{table} ORDER BY {order}")
            cols = [d[0].lower() for d in cur.description]
            return [{c: fmt(v) for c, v in zip(cols, row)} for row in cur.fetchall()]

        for rows in runs:
            task_run(rows)
        first = (read("CUSTOMERS_LATEST", "ID"), read("CUSTOMERS_HISTORY", "ID, VALID_FROM"))
        # Replay every run (a re-created stream, a forced reload): nothing may change.
        for rows in runs:
            task_run(rows)
        again = (read("CUSTOMERS_LATEST", "ID"), read("CUSTOMERS_HISTORY", "ID, VALID_FROM"))
        if again != first:
            sys.exit("fakesnow: replaying the batches changed the SCD tables")
        return first


def compare(what, got, want):
    if len(got) != len(want):
        sys.exit(f"{what}: {len(got)} rows, expected {len(want)}")
    for g, w in zip(got, want):
        g = {k: g.get(k) for k in w}
        if g != w:
            sys.exit(f"{what}: row differs\n  got  {g}\n  want {w}")
    print(f"{what}: {len(got)} rows match")


def main():
    check_parse()
    with tempfile.TemporaryDirectory() as tmp:
        runs, oracle = fixture(pathlib.Path(tmp))
    latest, history = run_fakesnow(runs)
    ref_latest, ref_history = reference([rec for rows in runs for _, rec in rows])
    compare("fakesnow SCD1 vs reference", latest, ref_latest)
    compare("fakesnow SCD2 vs reference", history, ref_history)
    if oracle is not None:
        compare("fakesnow SCD1 vs generator oracle", latest, [l["row"] for l in oracle if l["table"] == "latest"])
        compare("fakesnow SCD2 vs generator oracle", history, [l["row"] for l in oracle if l["table"] == "history"])
    print("SQL checks passed")


if __name__ == "__main__":
    main()
