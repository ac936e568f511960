"""SQL checks for sql/ (run by scripts/check-sql.sh inside .venv).

1. Every sql/*.sql parses with `sqlfluff parse --dialect snowflake` (no unparsable section).
2. Differential test: the SCD1/SCD2 MERGE statements and CREATE TABLEs taken verbatim from
   the committed scripts run on fakesnow, with a table standing in for the stream (fakesnow
   has no streams/tasks/pipes), over the generator's tricky change stream fed in several
   task runs and then replayed; the tables must equal the generator's oracle and an
   independent Python reference. Without the generator (or with
   SNOWSTREAM_SQL_FIXTURE=builtin), sql/tests/tricky_fixture.ndjson.
3. Correctness fixture shared with the stand-in's and the oracle's tests
   (sql/tests/correctness_fixture.ndjson: mixed offsets, every accepted input form, string
   and decimal ids, same-timestamp delete vs update, rows to reject): the SCD1, SCD2 and
   rejects MERGEs on fakesnow, over several seeded arrival orders split into task runs,
   must equal sql/tests/correctness_expected.ndjson, which this script's independent
   reference also reproduces (`--write-expected` rewrites it from the reference).
"""

import datetime as dt
import json
import os
import pathlib
import random
import re
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
SQL = ROOT / "sql"
STANDIN = "SNOWSTREAM.RAW.STREAM_STANDIN"
STREAMS = [
    "SNOWSTREAM.RAW.CUSTOMERS_RAW_LATEST_STREAM",
    "SNOWSTREAM.RAW.CUSTOMERS_RAW_HISTORY_STREAM",
    "SNOWSTREAM.RAW.CUSTOMERS_RAW_REJECTS_STREAM",
]
CORRECTNESS = SQL / "tests/correctness_fixture.ndjson"
EXPECTED = SQL / "tests/correctness_expected.ndjson"
COLUMNS = ["id", "name", "phone_number", "email", "address", "country", "job", "updated_at", "op"]
MIGRATION = SQL / "tests/migration"
ENVELOPE_RECORD = SQL / "tests/envelope_record"
REST = SQL / "tests/rest"


def check_parse():
    bad = []
    for path in sorted(SQL.glob("*.sql")) + [MIGRATION / "migrate.sql", ENVELOPE_RECORD / "03_raw_table_and_pipe.sql", REST / "03_raw_table_and_pipe.sql"]:
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
    if use_generator and (ROOT / "crates/snowstream/src/bin/snowstream-gen/main.rs").exists():
        gen_dir, expect = tmp / "gen", tmp / "expect.ndjson"
        # CI passes the binary `cargo test --workspace` built; `cargo run --bin snowstream-gen`
        # would resolve other features and compile tokio, hyper and reqwest again.
        gen = os.environ.get("SNOWSTREAM_GEN_BIN")
        gen = [gen] if gen else ["cargo", "run", "-q", "-p", "snowstream", "--bin", "snowstream-gen", "--"]
        subprocess.run(
            gen + ["files", "--dir", str(gen_dir), "--format", "ndjson", "--seed", "4242",
             "--profile", "tricky", "--count", "600", "--batch", "41",
             "--progress", "none", "--expect", str(expect)],
            check=True, cwd=ROOT,
        )
        files = sorted(p for p in gen_dir.iterdir() if p.name.endswith(".ndjson"))
        per_file = [[(f"customers/{p.name}", i + 1, json.loads(l))
                     for i, l in enumerate(l for l in p.read_text().splitlines() if l.strip())]
                    for p in files]
        oracle = [json.loads(l) for l in expect.read_text().splitlines() if l.strip()]
        print(f"fixture: generator, {len(files)} files, {sum(map(len, per_file))} records")
    else:
        per_file = fixture_files(SQL / "tests/tricky_fixture.ndjson")
        rows = sum(per_file, [])
        oracle = None
        print(f"fixture: sql/tests/tricky_fixture.ndjson, {len(rows)} records")
    # Three task runs: versions of one key end up split across runs.
    k = max(1, len(per_file) // 3)
    runs = [sum(per_file[i:i + k], []) for i in range(0, len(per_file), k)]
    return runs, oracle


# The accepted input forms (sql/README.md), written independently of the SQL and Rust.
TS_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?(Z|([+-])([0-9]{2}):?([0-9]{2}))?")
INT_RE = re.compile(r"[+-]?[0-9]{1,18}")
DEC_RE = re.compile(r"[+-]?[0-9]+(\.[0-9]*)?([eE][+-]?[0-9]+)?")


def as_text(v):
    if isinstance(v, str):
        return v
    return json.dumps(v)


def typed_int(v):
    if v is None or isinstance(v, (bool, dict, list)):
        return None
    t = as_text(v) if not isinstance(v, float) else repr(v)
    if INT_RE.fullmatch(t):
        return int(t)
    if DEC_RE.fullmatch(t):
        f = float(t)
        if abs(f) < 2 ** 53 and f == int(f):
            return int(f)
    return None


def typed_ts(v):
    if not isinstance(v, str):
        return None
    m = TS_RE.fullmatch(v)
    if not m:
        return None
    y, mo, d, h, mi, s, frac, off, sign, oh, om = m.groups()
    if off not in (None, "Z") and (int(oh) > 23 or int(om) > 59):
        return None
    try:
        t = dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), int((frac or "0")[:3].ljust(3, "0")) * 1000)
    except ValueError:
        return None
    if off not in (None, "Z"):
        delta = dt.timedelta(hours=int(oh), minutes=int(om))
        t = t - delta if sign == "+" else t + delta
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def accept(rec, extra=()):
    """(typed row, None) or (None, reject reason). `extra`: appended integer columns."""
    rec = rec if isinstance(rec, dict) else {}
    for col, typer, what in (("id", typed_int, "not an integer"),
                             ("updated_at", typed_ts, "not a timestamp in an accepted form")):
        if rec.get(col) is None:
            return None, f"{col}: missing"
        if typer(rec[col]) is None:
            return None, f"{col}: {what}"
    row = {c: (None if rec.get(c) is None else as_text(rec[c])) for c in COLUMNS}
    row["id"], row["updated_at"] = typed_int(rec["id"]), typed_ts(rec["updated_at"])
    for c in extra:
        row[c] = typed_int(rec.get(c))
    row["is_deleted"] = rec.get("op") == "D"
    return row, None


def rank(row, extra=()):
    """The total order of versions of one id (greater wins): event time, a delete above an
    update, then the other columns in spec order (text by UTF-8 bytes), NULL lowest."""
    def key(v):
        return (0, b"") if v is None else (1, v.encode() if isinstance(v, str) else v)
    ties = tuple(key(row[c]) for c in COLUMNS + list(extra) if c not in ("id", "updated_at"))
    return (row["updated_at"], row["is_deleted"]) + ties


def fixture_files(path):
    """A fixture's records grouped per file, in file-name order: [(file, row number, record)]."""
    rows = [json.loads(l) for l in path.read_text().splitlines() if l.strip()]
    names = sorted({r["file"] for r in rows})
    out = []
    for n in names:
        recs = [r["record"] for r in rows if r["file"] == n]
        out.append([(n, i + 1, rec) for i, rec in enumerate(recs)])
    return out


def arrivals(per_file, seed):
    """A seeded arrival order of the files, split into three task runs."""
    files = list(per_file)
    random.Random(seed).shuffle(files)
    k = max(1, (len(files) + 2) // 3)
    return [sum(files[i:i + k], []) for i in range(0, len(files), k)]


def reference(rows, extra=()):
    """Contract 3 the simple way: all accepted versions per key, the greatest per event
    time, sorted by event time. `rows` are (file, row number, record); also the rejects."""
    by_key, rejects = {}, []
    for name, line, rec in rows:
        row, reason = accept(rec, extra)
        if row is None:
            rejects.append({"file_name": name, "file_row_number": line, "reason": reason, "record": rec})
            continue
        at = by_key.setdefault(row["id"], {})
        if row["updated_at"] not in at or rank(row, extra) > rank(at[row["updated_at"]], extra):
            at[row["updated_at"]] = row
    latest, history = [], []
    for key in sorted(by_key):
        versions = [by_key[key][t] for t in sorted(by_key[key])]
        for i, row in enumerate(versions):
            nxt = versions[i + 1]["updated_at"] if i + 1 < len(versions) else None
            if nxt is None:
                latest.append(dict(row))
            history.append(dict(row, valid_from=row["updated_at"], valid_to=nxt, is_current=nxt is None))
    uniq = {(r["file_name"], r["file_row_number"]): r for r in rejects}
    return latest, history, [uniq[k] for k in sorted(uniq)]


def fmt(v):
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%dT%H:%M:%S.") + f"{v.microsecond // 1000:03d}Z"
    if hasattr(v, "as_integer_ratio") and not isinstance(v, (bool, float)):
        return int(v)
    return v


def statements(path, starts):
    """Every statement of `path` (comment lines dropped) that starts with one of `starts`."""
    out = []
    for stmt in path.read_text().split(";\n"):
        body = "\n".join(l for l in stmt.splitlines() if not l.lstrip().startswith("--")).strip()
        i = min((body.find(s) for s in starts if s in body), default=-1)
        if i >= 0 and (i == 0 or body[:i].rstrip().endswith("AS")):
            out.append(body[i:])
    return out


def run_fakesnow(runs, migrate_before=None):
    """The SCD1, SCD2 and rejects MERGEs over `runs`; with `migrate_before=k`, the committed
    migration (sql/tests/migration/migrate.sql) runs before run k, and its MERGEs after."""
    import fakesnow
    import snowflake.connector

    merges = [
        statement(SQL / "05_scd1_latest.sql", "MERGE INTO"),
        statement(SQL / "06_scd2_history.sql", "MERGE INTO"),
        statement(SQL / "04_streams.sql", "MERGE INTO"),
    ]
    for m, stream in zip(merges, STREAMS):
        assert stream in m, f"{stream} not in the shipped MERGE"
    merges = [m.replace(s, STANDIN) for m, s in zip(merges, STREAMS)]
    tables = [
        statement(SQL / "05_scd1_latest.sql", "CREATE TABLE IF NOT EXISTS"),
        statement(SQL / "06_scd2_history.sql", "CREATE TABLE IF NOT EXISTS"),
        statement(SQL / "04_streams.sql", "CREATE TABLE IF NOT EXISTS"),
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
        cur.execute(statement(SQL / "03_raw_table_and_pipe.sql", "CREATE TABLE IF NOT EXISTS").replace("CHANGE_TRACKING = TRUE", ""))

        def task_run(rows):
            # The stand-in holds exactly the rows a stream would return for this run.
            cur.execute("DELETE FROM SNOWSTREAM.RAW.STANDIN_TEXT")
            cur.execute(f"DELETE FROM {STANDIN}")
            params = [(json.dumps(rec), name, line) for name, line, rec in rows]
            cur.executemany("INSERT INTO SNOWSTREAM.RAW.STANDIN_TEXT VALUES (%s, %s, %s)", params)
            cur.execute(f"INSERT INTO {STANDIN} SELECT PARSE_JSON(RECORD_TEXT), NULL, FILE_NAME, FILE_ROW_NUMBER FROM SNOWSTREAM.RAW.STANDIN_TEXT")
            # The raw table holds everything loaded so far (the migration's backfill reads it).
            cur.execute(f"INSERT INTO SNOWSTREAM.RAW.CUSTOMERS_RAW (RECORD, META, FILE_NAME, FILE_ROW_NUMBER) SELECT RECORD, META, FILE_NAME, FILE_ROW_NUMBER FROM {STANDIN}")
            for m in merges:
                cur.execute(m)

        def read(table, order):
            cur.execute(f"SELECT * FROM SNOWSTREAM.CORE.{table} ORDER BY {order}")
            cols = [d[0].lower() for d in cur.description]
            return [{c: fmt(v) for c, v in zip(cols, row)} for row in cur.fetchall()]

        def read_all():
            rejects = read("CUSTOMERS_REJECTS", "FILE_NAME, FILE_ROW_NUMBER")
            for r in rejects:
                r.pop("rejected_at")
                r["record"] = json.loads(r["record"])
            return read("CUSTOMERS_LATEST", "ID"), read("CUSTOMERS_HISTORY", "ID, VALID_FROM"), rejects

        for k, rows in enumerate(runs):
            if k == migrate_before:
                migration = MIGRATION / "migrate.sql"
                for st in statements(migration, ["ALTER TABLE", "UPDATE "]):
                    cur.execute(st)
                merges[:] = [m.replace(s, STANDIN) for m, s in zip(statements(migration, ["MERGE INTO"]), STREAMS)]
            task_run(rows)
        first = read_all()
        # Replay every run (a re-created stream, a forced reload): nothing may change.
        for rows in runs:
            task_run(rows)
        again = read_all()
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


def expected_lines(latest, history, rejects):
    return ([{"table": "latest", "row": r} for r in latest] + [{"table": "history", "row": r} for r in history]
            + [{"table": "rejects", "row": r} for r in rejects])


def check_correctness(write_expected):
    per_file = fixture_files(CORRECTNESS)
    ref = reference(sum(per_file, []))
    if write_expected:
        EXPECTED.write_text("".join(json.dumps(l, ensure_ascii=False) + "\n" for l in expected_lines(*ref)))
    want = [json.loads(l) for l in EXPECTED.read_text().splitlines() if l.strip()]
    if expected_lines(*ref) != want:
        sys.exit(f"reference disagrees with {EXPECTED.name}")
    tables = ("latest", "history", "rejects")
    for seed in range(4):
        runs = arrivals(per_file, seed)
        ref_run = reference([row for rows in runs for row in rows])
        got = run_fakesnow(runs)
        for t, g, r in zip(tables, got, ref_run):
            compare(f"correctness seed {seed}: fakesnow {t} vs expected", g, [l["row"] for l in want if l["table"] == t])
            compare(f"correctness seed {seed}: reference {t} vs expected", r, [l["row"] for l in want if l["table"] == t])


def check_migration(write_expected):
    """Runs 1-2 with the customers spec, then the committed migration to customers_v2 (an
    appended `tier` column, backfilled from the raw records), then run 3 with the new MERGEs:
    the tables must equal a load of everything with the new spec (the reference), which
    sql/tests/migration/expected.ndjson holds (the stand-in's test checks it too)."""
    per_file = fixture_files(CORRECTNESS)
    ref = reference(sum(per_file, []), extra=["tier"])
    expected = MIGRATION / "expected.ndjson"
    if write_expected:
        expected.write_text("".join(json.dumps(l, ensure_ascii=False) + "\n" for l in expected_lines(*ref)))
    want = [json.loads(l) for l in expected.read_text().splitlines() if l.strip()]
    if expected_lines(*ref) != want:
        sys.exit(f"reference disagrees with {expected}")
    for seed in (11, 12):
        got = run_fakesnow(arrivals(per_file, seed), migrate_before=2)
        for t, g in zip(("latest", "history", "rejects"), got):
            compare(f"migration seed {seed}: fakesnow {t} vs expected", g, [l["row"] for l in want if l["table"] == t])


def main():
    check_parse()
    check_correctness("--write-expected" in sys.argv)
    check_migration("--write-expected" in sys.argv)
    with tempfile.TemporaryDirectory() as tmp:
        runs, oracle = fixture(pathlib.Path(tmp))
    latest, history, rejects = run_fakesnow(runs)
    ref_latest, ref_history, ref_rejects = reference([row for rows in runs for row in rows])
    compare("fakesnow SCD1 vs reference", latest, ref_latest)
    compare("fakesnow SCD2 vs reference", history, ref_history)
    compare("fakesnow rejects vs reference", rejects, ref_rejects)
    if oracle is not None:
        compare("fakesnow SCD1 vs generator oracle", latest, [l["row"] for l in oracle if l["table"] == "latest"])
        compare("fakesnow SCD2 vs generator oracle", history, [l["row"] for l in oracle if l["table"] == "history"])
    print("SQL checks passed")


if __name__ == "__main__":
    main()
