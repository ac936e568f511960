//! The local warehouse on the correctness fixture shared with the fakesnow differential
//! check (`scripts/check_sql.py`) and the generator's oracle: mixed offsets and `Z`, every
//! accepted input form, string and decimal ids, same-timestamp delete vs update, rows that
//! must be rejected. Whatever order the files arrive in, and however they are split across
//! task runs, the tables and the rejects equal `sql/tests/correctness_expected.ndjson`.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value, json};
use warehouse::{TableSpec, Warehouse};

use crate::support::Lcg;

const FIXTURE: &str = include_str!("../../../../sql/tests/correctness_fixture.ndjson");
const EXPECTED: &str = include_str!("../../../../sql/tests/correctness_expected.ndjson");

/// The fixture's records per file name, in file-name order.
fn files() -> Vec<(String, Vec<Value>)> {
    let mut by_file: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for line in FIXTURE.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).unwrap();
        by_file
            .entry(v["file"].as_str().unwrap().to_string())
            .or_default()
            .push(v["record"].clone());
    }
    by_file.into_iter().collect()
}

fn expected(table: &str) -> Vec<Map<String, Value>> {
    EXPECTED
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["table"] == table)
        .map(|v| v["row"].as_object().unwrap().clone())
        .collect()
}

/// Lands one fixture file (zstd NDJSON of `{"record":…,"meta":…}` lines) at its name
/// under `landing`.
fn land(landing: &Path, name: &str, records: &[Value]) {
    let path = landing.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let text: String = records
        .iter()
        .map(|r| json!({"record": r, "meta": {"stream": "customers"}}).to_string() + "\n")
        .collect();
    std::fs::write(&path, zstd::encode_all(text.as_bytes(), 3).unwrap()).unwrap();
}

fn assert_expected(wh: &Warehouse, what: &str) {
    assert_eq!(
        wh.latest_rows().unwrap(),
        expected("latest"),
        "latest, {what}"
    );
    assert_eq!(
        wh.history_rows().unwrap(),
        expected("history"),
        "history, {what}"
    );
    assert_eq!(
        wh.rejects_rows().unwrap(),
        expected("rejects"),
        "rejects, {what}"
    );
}

#[test]
fn any_arrival_order_and_split_gives_the_expected_tables_and_rejects() {
    let files = files();
    for seed in 0..12u64 {
        let tmp = tempfile::tempdir().unwrap();
        let landing = tmp.path().join("landing");
        let mut wh = Warehouse::open(&tmp.path().join("wh.db"), &TableSpec::customers()).unwrap();
        let mut rng = Lcg(seed);
        let mut order: Vec<usize> = (0..files.len()).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i as u64 + 1) as usize);
        }
        // Land the files in that order, running the tasks after a random number of them.
        for (n, &f) in order.iter().enumerate() {
            land(&landing, &files[f].0, &files[f].1);
            if rng.below(3) == 0 || n + 1 == order.len() {
                wh.sync(&landing).unwrap();
            }
        }
        assert_expected(&wh, &format!("seed {seed}, order {order:?}"));
        let counts = wh.counts().unwrap();
        assert_eq!(counts.rejects, expected("rejects").len() as u64);
        // Nothing changes on a sync with nothing new.
        let (load, tasks) = wh.sync(&landing).unwrap();
        assert_eq!((load.files_loaded, tasks.rejects_recorded), (0, 0));
        assert_expected(&wh, "after an idle sync");
    }
}

/// Snowflake's pipe PATTERN (`.*/…` after `@stage/customers/`) needs a subfolder; the
/// local pipe skips a file lying directly in the stream folder the same way.
#[test]
fn a_file_directly_in_the_stream_folder_is_not_loaded() {
    let tmp = tempfile::tempdir().unwrap();
    let landing = tmp.path().join("landing");
    let files = files();
    land(&landing, "customers/direct.ndjson.zst", &files[0].1);
    land(&landing, &files[0].0, &files[0].1);
    let mut wh = Warehouse::open(&tmp.path().join("wh.db"), &TableSpec::customers()).unwrap();
    let (load, _) = wh.sync(&landing).unwrap();
    assert_eq!(load.files_loaded, 1);
    assert_eq!(wh.counts().unwrap().raw, files[0].1.len() as u64);
}

fn expected_v2(table: &str) -> Vec<Map<String, Value>> {
    include_str!("../../../../sql/tests/migration/expected.ndjson")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["table"] == table)
        .map(|v| v["row"].as_object().unwrap().clone())
        .collect()
}

/// A spec that appends a column (`sql/tests/migration/customers_v2.toml`, the fixture of the
/// fakesnow migration check too): reopening the database with it adds the column and
/// backfills it from the raw records, and later loads use the new spec. The result equals
/// `sql/tests/migration/expected.ndjson`, a load of everything with the new spec.
#[test]
fn a_spec_migration_with_backfill_equals_a_load_with_the_new_spec() {
    let v2 = TableSpec::parse(include_str!(
        "../../../../sql/tests/migration/customers_v2.toml"
    ))
    .unwrap();
    let files = files();
    for seed in 0..6u64 {
        let tmp = tempfile::tempdir().unwrap();
        let landing = tmp.path().join("landing");
        let db = tmp.path().join("wh.db");
        let mut rng = Lcg(seed + 100);
        let mut order: Vec<usize> = (0..files.len()).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let (before, after) = order.split_at(order.len() * 2 / 3);
        let mut wh = Warehouse::open(&db, &TableSpec::customers()).unwrap();
        for &f in before {
            land(&landing, &files[f].0, &files[f].1);
        }
        wh.sync(&landing).unwrap();
        drop(wh);
        let mut wh = Warehouse::open(&db, &v2).unwrap();
        for &f in after {
            land(&landing, &files[f].0, &files[f].1);
        }
        wh.sync(&landing).unwrap();
        let what = format!("seed {seed}, order {order:?}");
        assert_eq!(wh.latest_rows().unwrap(), expected_v2("latest"), "{what}");
        assert_eq!(wh.history_rows().unwrap(), expected_v2("history"), "{what}");
        assert_eq!(wh.rejects_rows().unwrap(), expected_v2("rejects"), "{what}");
        drop(wh);
        // Reopening with the new spec again changes nothing; going back is refused.
        let wh = Warehouse::open(&db, &v2).unwrap();
        assert_eq!(wh.latest_rows().unwrap(), expected_v2("latest"));
        drop(wh);
        assert!(Warehouse::open(&db, &TableSpec::customers()).is_err());
    }
}

/// Hash-diff SCD2 (`scd2_tracked`): the view keeps the versions whose tracked columns or
/// delete flag changed, each valid until the next kept one; checked against the same rule
/// applied by hand to the full history.
#[test]
fn the_hash_diff_view_keeps_only_versions_whose_tracked_columns_changed() {
    let text = format!(
        "scd2_tracked = [\"country\", \"job\"]\n{}",
        include_str!("../../../../specs/customers.toml")
    );
    let spec = TableSpec::parse(&text).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let landing = tmp.path().join("landing");
    for (name, records) in files() {
        land(&landing, &name, &records);
    }
    let mut wh = Warehouse::open(&tmp.path().join("wh.db"), &spec).unwrap();
    wh.sync(&landing).unwrap();
    let history = wh.history_rows().unwrap();
    let mut want: Vec<(Value, Value, Value, Value)> = Vec::new();
    let mut prev: Option<&Map<String, Value>> = None;
    for row in &history {
        let same_key = prev.is_some_and(|p| p["id"] == row["id"]);
        let changed = !same_key
            || ["country", "job", "is_deleted"]
                .iter()
                .any(|c| prev.unwrap()[*c] != row[*c]);
        if changed {
            if let Some(last) = want.last_mut().filter(|_| same_key) {
                last.2 = row["valid_from"].clone();
            }
            want.push((
                row["id"].clone(),
                row["valid_from"].clone(),
                Value::Null,
                row["is_deleted"].clone(),
            ));
        }
        prev = Some(row);
    }
    let got = wh
        .query("SELECT id, valid_from, valid_to, is_deleted FROM customers_history_changes ORDER BY id, valid_from")
        .unwrap();
    let got: Vec<(Value, Value, Value, Value)> = got
        .rows
        .into_iter()
        .map(|r| {
            (
                r[0].clone(),
                r[1].clone(),
                r[2].clone(),
                json!(r[3] == json!(1)),
            )
        })
        .collect();
    assert!(got.len() < history.len(), "some versions collapse");
    assert_eq!(got, want);
}
