//! The embedded warehouse against an independent reference of contract 3, on real landed
//! files (zstd/gzip NDJSON) in a temp folder and a real SQLite file.

use warehouse::{Error, TableSpec, Warehouse};

use crate::support::{Event, land, random_events, reference};

fn open(dir: &std::path::Path) -> Warehouse {
    Warehouse::open(&dir.join("wh/warehouse.db"), &TableSpec::customers()).unwrap()
}

fn assert_matches_reference(wh: &Warehouse, events: &[Event]) {
    let want = reference(events);
    assert_eq!(
        wh.latest_rows().unwrap(),
        want.latest,
        "latest differs from reference"
    );
    assert_eq!(
        wh.history_rows().unwrap(),
        want.history,
        "history differs from reference"
    );
}

/// Hand-picked tricky cases, delivered in several files loaded by different task runs.
fn tricky_batches() -> Vec<Vec<Event>> {
    let e = Event::new;
    vec![
        // File 1: several versions of key 1 in one file, out of order; key 2 inserted.
        vec![
            e(1, "A2", 200, "U"),
            e(1, "A1", 100, "I"),
            e(1, "A3", 300, "U"),
            e(2, "B1", 100, "I"),
        ],
        // File 2: exact duplicate of key 1's newest; key 2 deleted; key 3 inserted.
        vec![
            e(1, "A3", 300, "U"),
            e(2, "B1", 500, "D"),
            e(3, "C1", 100, "I"),
        ],
        // File 3 (next task run): late older update of key 2 after its delete (must not
        // resurrect), late version of key 1 between two stored ones, re-insert of key 3
        // after a delete in the same file.
        vec![
            e(2, "B0", 300, "U"),
            e(1, "A1b", 150, "U"),
            e(3, "C1", 200, "D"),
            e(3, "C2", 400, "I"),
        ],
        // File 4 (next run): key 4's versions split across this and the next file,
        // a duplicate of an old version of key 1, re-insert of key 2 after its delete.
        vec![
            e(4, "D2", 200, "U"),
            e(1, "A1", 100, "I"),
            e(2, "B2", 900, "I"),
        ],
        // File 5: key 4's older insert arrives last.
        vec![e(4, "D1", 100, "I"), e(4, "D2", 200, "U")],
    ]
}

#[test]
fn tricky_cases_match_reference_after_every_run() {
    let tmp = tempfile::tempdir().unwrap();
    let landing = tmp.path().join("landing");
    let mut wh = open(tmp.path());
    let mut seen = Vec::new();
    for (i, batch) in tricky_batches().into_iter().enumerate() {
        land(&landing, "ss-1", (i as u64) * 100 + 1, &batch, i % 2 == 1);
        seen.extend(batch);
        let (load, _) = wh.sync(&landing).unwrap();
        assert_eq!(load.files_loaded, 1);
        assert_eq!(load.files_already_loaded, i);
        assert_matches_reference(&wh, &seen);
    }
    // Spot checks that the reference itself encodes the tricky expectations.
    let latest = wh.latest_rows().unwrap();
    let k2 = latest.iter().find(|r| r["id"] == 2).unwrap();
    assert_eq!(k2["name"], "B2", "re-insert after delete revives key 2");
    assert_eq!(k2["is_deleted"], false);
    let history = wh.history_rows().unwrap();
    let k1: Vec<_> = history
        .iter()
        .filter(|r| r["id"] == 1)
        .map(|r| r["name"].clone())
        .collect();
    assert_eq!(
        k1,
        ["A1", "A1b", "A2", "A3"],
        "late version placed in order, duplicates removed"
    );
}

#[test]
fn late_older_update_after_delete_does_not_resurrect() {
    let tmp = tempfile::tempdir().unwrap();
    let landing = tmp.path().join("landing");
    let mut wh = open(tmp.path());
    land(
        &landing,
        "ss-1",
        1,
        &[Event::new(7, "X1", 100, "I"), Event::new(7, "X1", 500, "D")],
        false,
    );
    wh.sync(&landing).unwrap();
    land(&landing, "ss-1", 3, &[Event::new(7, "X0", 300, "U")], false);
    wh.sync(&landing).unwrap();
    let latest = wh.latest_rows().unwrap();
    assert_eq!(latest.len(), 1);
    assert_eq!(latest[0]["is_deleted"], true);
    assert_eq!(
        latest[0]["updated_at"], "2026-11-24T13:00:00.500Z",
        "tombstone keeps its time"
    );
    let history = wh.history_rows().unwrap();
    assert_eq!(
        history.len(),
        3,
        "the late version still enters the history"
    );
    assert_eq!(history[1]["name"], "X0");
    assert_eq!(history[1]["valid_to"], "2026-11-24T13:00:00.500Z");
}

#[test]
fn random_streams_match_reference_in_any_split() {
    for seed in [1u64, 7, 42] {
        let tmp = tempfile::tempdir().unwrap();
        let landing = tmp.path().join("landing");
        let mut wh = open(tmp.path());
        let events = random_events(seed, 30, 6);
        let mut rng = crate::support::Lcg(seed ^ 0xdead);
        let mut start = 0;
        let mut seq = 1u64;
        // Bounded: each step lands at least one event.
        while start < events.len() {
            let n = 1 + rng.below(25) as usize;
            let end = (start + n).min(events.len());
            land(&landing, "ss-2", seq, &events[start..end], false);
            seq += (end - start) as u64;
            start = end;
            if rng.below(3) == 0 {
                wh.sync(&landing).unwrap();
            }
        }
        wh.sync(&landing).unwrap();
        assert_matches_reference(&wh, &events);
    }
}

#[test]
fn replaying_every_file_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let landing = tmp.path().join("landing");
    let mut wh = open(tmp.path());
    let events = random_events(3, 20, 5);
    let mut files = Vec::new();
    for (i, chunk) in events.chunks(17).enumerate() {
        files.push(land(&landing, "ss-1", i as u64 * 17 + 1, chunk, false));
    }
    wh.sync(&landing).unwrap();
    let (latest, history) = (wh.latest_rows().unwrap(), wh.history_rows().unwrap());
    let raw = wh.counts().unwrap().raw;

    // Same files again: the load history skips them.
    let (load, tasks) = wh.sync(&landing).unwrap();
    assert_eq!(load.files_loaded, 0);
    assert_eq!(load.files_already_loaded, files.len());
    assert_eq!(tasks.latest_rows_read + tasks.history_rows_read, 0);

    // Same contents under new names (a forced reload): rows enter raw again, tables stay.
    let replay = landing.join("customers/replay");
    std::fs::create_dir_all(&replay).unwrap();
    for f in &files {
        std::fs::copy(f, replay.join(f.file_name().unwrap())).unwrap();
    }
    let (load, tasks) = wh.sync(&landing).unwrap();
    assert_eq!(load.files_loaded, files.len());
    assert_eq!(wh.counts().unwrap().raw, raw * 2);
    assert_eq!(tasks.latest_rows_changed, 0);
    assert_eq!(tasks.history_versions_inserted, 0);
    assert_eq!(wh.latest_rows().unwrap(), latest);
    assert_eq!(wh.history_rows().unwrap(), history);
    assert_matches_reference(&wh, &events);
}

/// (SCD1 stream offset, SCD2 stream offset).
fn offsets(wh: &Warehouse) -> (serde_json::Value, serde_json::Value) {
    let get = |name: &str| {
        wh.query(&format!(
            "SELECT last_raw_id FROM stream_offsets WHERE stream_name = '{name}'"
        ))
        .unwrap()
        .rows[0][0]
            .clone()
    };
    (
        get("customers_raw_latest_stream"),
        get("customers_raw_history_stream"),
    )
}

#[test]
fn a_failed_batch_applies_nothing_and_keeps_its_offset() {
    for (failing_task, after_rows) in [("scd1", 3usize), ("scd2", 5usize)] {
        let tmp = tempfile::tempdir().unwrap();
        let landing = tmp.path().join("landing");
        let mut wh = open(tmp.path());
        let first = random_events(11, 10, 3);
        land(&landing, "ss-1", 1, &first, false);
        wh.sync(&landing).unwrap();
        let second = random_events(12, 15, 4);
        land(&landing, "ss-1", 1000, &second, false);
        assert_eq!(wh.load_new_files(&landing).unwrap().files_loaded, 1);

        let before = (
            wh.latest_rows().unwrap(),
            wh.history_rows().unwrap(),
            offsets(&wh),
        );
        let err = wh
            .run_tasks_with_hook(|task, n| {
                if task == failing_task && n == after_rows {
                    Err(Error::Aborted(format!(
                        "injected crash in {task} after {n} rows"
                    )))
                } else {
                    Ok(())
                }
            })
            .unwrap_err();
        assert!(matches!(err, Error::Aborted(_)), "{err}");
        let after = (
            wh.latest_rows().unwrap(),
            wh.history_rows().unwrap(),
            offsets(&wh),
        );
        if failing_task == "scd1" {
            assert_eq!(after, before, "nothing of the failed SCD1 batch is kept");
        } else {
            // SCD1 committed its own batch; SCD2's table and offset are untouched.
            assert_eq!(after.1, before.1, "history unchanged");
            assert_ne!(after.2.0, before.2.0, "scd1 offset advanced");
            assert_eq!(after.2.1, before.2.1, "scd2 offset unchanged");
        }
        // Reopen (as after a crash) and run again: exactly-once result.
        drop(wh);
        let mut wh = open(tmp.path());
        wh.run_tasks().unwrap();
        let all: Vec<Event> = first.iter().chain(&second).cloned().collect();
        assert_matches_reference(&wh, &all);
    }
}

#[test]
fn pipe_skips_manifests_temp_files_and_bad_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let landing = tmp.path().join("landing");
    let mut wh = open(tmp.path());
    land(&landing, "ss-1", 1, &[Event::new(1, "A", 1, "I")], true);
    let dir = landing.join("customers/dt=2026-11-24/hh=13");
    // A JSON parse error loads the lines before it and skips the rest of the file, as
    // Snowflake's COPY does for JSON with ON_ERROR = CONTINUE ("COPY INTO <table>", ON_ERROR).
    let text = "{\"record\":{\"id\":2,\"updated_at\":\"2026-11-24T13:00:00.000Z\",\"op\":\"I\"}}\n\n{\"record\":{\"id\":\"x\"}}\nnot json\n{\"record\":{\"id\":3}}\n";
    std::fs::write(
        dir.join("ss-9-00000000000000000001.ndjson.zst"),
        zstd::encode_all(text.as_bytes(), 1).unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.join("ss-9-00000000000000000099.ndjson.zst"),
        b"truncated",
    )
    .unwrap();
    let load = wh.load_new_files(&landing).unwrap();
    assert_eq!(load.files_loaded, 2);
    assert_eq!(load.rows_loaded, 3);
    assert_eq!(load.rows_rejected, 1);
    assert_eq!(load.failed.len(), 1, "{load:?}");
    let rows = wh
        .query("SELECT file_name, file_row_number FROM customers_raw ORDER BY raw_id")
        .unwrap()
        .rows;
    let ss9 = "customers/dt=2026-11-24/hh=13/ss-9-00000000000000000001.ndjson.zst";
    assert!(
        rows.contains(&vec![ss9.into(), 3.into()]),
        "row numbers are line numbers: {rows:?}"
    );
    assert!(
        !rows.contains(&vec![ss9.into(), 5.into()]),
        "the line after the parse error is skipped: {rows:?}"
    );
    let tasks = wh.run_tasks().unwrap();
    assert_eq!(tasks.invalid_rows, 1, "id \"x\" is not an integer");
    assert_eq!(wh.counts().unwrap().latest, 2);
}

#[test]
fn reopening_with_another_spec_is_refused_and_file_is_plain_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    let landing = tmp.path().join("landing");
    let mut wh = open(tmp.path());
    land(&landing, "ss-1", 1, &[Event::new(1, "A", 1, "I")], false);
    wh.sync(&landing).unwrap();
    assert!(
        wh.query("DELETE FROM customers_latest").is_err(),
        "query is read-only"
    );
    drop(wh);

    let text = include_str!("../../../../specs/customers.toml")
        .replace("name = \"job\"", "name = \"title\"");
    let other = TableSpec::parse(&text).unwrap();
    let err = Warehouse::open(&tmp.path().join("wh/warehouse.db"), &other).unwrap_err();
    assert!(matches!(err, Error::SpecMismatch { .. }), "{err}");

    let conn = rusqlite::Connection::open(tmp.path().join("wh/warehouse.db")).unwrap();
    let n: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM customers_history WHERE is_current",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 1);
}

#[test]
fn a_file_that_fails_mid_load_leaves_no_rows_and_is_retried() {
    let tmp = tempfile::tempdir().unwrap();
    let landing = tmp.path().join("landing");
    let mut wh = open(tmp.path());
    let events = random_events(5, 4, 3);
    land(&landing, "ss-1", 1, &events, false);
    // A real SQLite failure on the third line of the file, from a second connection.
    let db = tmp.path().join("wh/warehouse.db");
    let other = rusqlite::Connection::open(&db).unwrap();
    other
        .execute_batch(
            "CREATE TRIGGER crash BEFORE INSERT ON customers_raw WHEN NEW.file_row_number = 3
             BEGIN SELECT RAISE(ABORT, 'disk gone'); END;",
        )
        .unwrap();
    assert!(wh.load_new_files(&landing).is_err());
    let c = wh.counts().unwrap();
    assert_eq!(c.raw, 0, "no partial file in raw");
    let hist = wh.query("SELECT COUNT(*) FROM load_history").unwrap().rows[0][0].clone();
    assert_eq!(hist, 0, "not recorded as loaded");
    other.execute_batch("DROP TRIGGER crash;").unwrap();
    let load = wh.load_new_files(&landing).unwrap();
    assert_eq!(load.rows_loaded, events.len() as u64);
    wh.run_tasks().unwrap();
    assert_matches_reference(&wh, &events);
}

#[test]
fn a_task_failing_inside_sqlite_is_retried_exactly_once() {
    let tmp = tempfile::tempdir().unwrap();
    let landing = tmp.path().join("landing");
    let mut wh = open(tmp.path());
    let events = random_events(9, 12, 4);
    land(&landing, "ss-1", 1, &events, false);
    wh.load_new_files(&landing).unwrap();
    let db = tmp.path().join("wh/warehouse.db");
    let other = rusqlite::Connection::open(&db).unwrap();
    other
        .execute_batch(
            "CREATE TRIGGER crash BEFORE INSERT ON customers_history WHEN NEW.id = 7
             BEGIN SELECT RAISE(ABORT, 'disk gone'); END;",
        )
        .unwrap();
    assert!(wh.run_tasks().is_err());
    assert_eq!(
        wh.counts().unwrap().history,
        0,
        "the SCD2 batch rolled back whole"
    );
    other.execute_batch("DROP TRIGGER crash;").unwrap();
    let report = wh.run_tasks().unwrap();
    assert_eq!(
        report.latest_rows_read, 0,
        "SCD1 had already committed its batch"
    );
    assert_eq!(report.history_rows_read, events.len() as u64);
    assert_matches_reference(&wh, &events);
}

#[test]
fn diff_against_oracle_reports_equality_and_differences() {
    let tmp = tempfile::tempdir().unwrap();
    let landing = tmp.path().join("landing");
    let mut wh = open(tmp.path());
    let events = random_events(21, 6, 4);
    land(&landing, "ss-1", 1, &events, false);
    wh.sync(&landing).unwrap();
    let want = reference(&events);
    let mut text = String::new();
    for r in &want.latest {
        text += &serde_json::json!({"table": "latest", "row": r}).to_string();
        text.push('\n');
    }
    for r in &want.history {
        text += &serde_json::json!({"table": "history", "row": r}).to_string();
        text.push('\n');
    }
    assert_eq!(wh.diff_against_oracle(&text).unwrap(), Vec::<String>::new());
    let broken = text.replacen("\"is_deleted\":false", "\"is_deleted\":true", 1);
    let diffs = wh.diff_against_oracle(&broken).unwrap();
    assert_eq!(diffs.len(), 1, "{diffs:?}");
    let fewer: String = text.lines().skip(1).map(|l| format!("{l}\n")).collect();
    assert!(wh.diff_against_oracle(&fewer).unwrap()[0].contains("oracle has"));
}

/// A record with a key twice, in the middle of a landed file: Snowflake's JSON parser refuses
/// it (the file format's ALLOW_DUPLICATE = FALSE) and, with ON_ERROR = CONTINUE, skips the
/// rest of the file, so the rows after it never reach RAW. The stand-in does the same; the
/// receiver refuses such a record before it can land (`records::duplicate_key`).
#[test]
fn a_duplicate_key_loses_the_rows_after_it_as_in_snowflake() {
    let tmp = tempfile::tempdir().unwrap();
    let landing = tmp.path().join("landing");
    let mut wh = open(tmp.path());
    let dir = landing.join("customers/dt=2026-11-24/hh=13");
    std::fs::create_dir_all(&dir).unwrap();
    let row = |id: u32| {
        format!(
            "{{\"record\":{{\"id\":{id},\"updated_at\":\"2026-11-24T13:00:00.000Z\",\"op\":\"I\"}}}}\n"
        )
    };
    let text = format!(
        "{}{}{{\"record\":{{\"id\":3,\"id\":4,\"updated_at\":\"2026-11-24T13:00:00.000Z\",\"op\":\"I\"}}}}\n{}{}",
        row(1),
        row(2),
        row(5),
        row(6)
    );
    std::fs::write(
        dir.join("ss-7-00000000000000000001.ndjson.zst"),
        zstd::encode_all(text.as_bytes(), 1).unwrap(),
    )
    .unwrap();
    let load = wh.load_new_files(&landing).unwrap();
    assert_eq!((load.rows_loaded, load.rows_rejected), (2, 1), "{load:?}");
    assert!(records::duplicate_key(row(1).trim().as_bytes()).is_none());
}
