//! The local pipe and the table spec's `envelope`: record-envelope files (written by the real
//! `records::landed::LineWriter`, with a real manifest) load under a `record` spec with META
//! NULL, like the Snowflake pipe's `$1` / `NULL` COPY, and SCD1/SCD2 match the reference;
//! a file whose manifest disagrees with the spec is refused every run, loading nothing.

use std::path::{Path, PathBuf};

use records::landed::{Codec, Envelope, LandedKey, LineWriter, Manifest, format_time};
use warehouse::{TableSpec, Warehouse};

use crate::support::{Event, land, random_events, reference};

fn spec(envelope: Envelope) -> TableSpec {
    TableSpec {
        envelope,
        ..TableSpec::customers()
    }
}

/// Lands `events` as the record-envelope file the lander would write (key, lines, manifest);
/// without its manifest when `manifest` is false. Returns the data file's path.
fn land_records(root: &Path, first_seq: u64, events: &[Event], manifest: bool) -> PathBuf {
    let at = chrono::DateTime::parse_from_rfc3339("2026-11-24T13:45:01.123Z")
        .unwrap()
        .timestamp_millis();
    let key = LandedKey::new("", "customers", "ss-r", at, first_seq, Codec::Zstd).to_string();
    let mut w = LineWriter::new("customers", "ss-r").with_envelope(Envelope::Record);
    let mut text = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let record = e.record().to_string();
        let attrs = br#"{"filename":"f.json","uuid":"u"}"#;
        text.extend_from_slice(w.line(
            record.as_bytes(),
            first_seq + i as u64,
            &format_time(at),
            attrs,
        ));
    }
    let path = root.join(&key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let body = zstd::encode_all(&text[..], 3).unwrap();
    std::fs::write(&path, &body).unwrap();
    if manifest {
        write_manifest(root, &key, first_seq, events.len() as u64, Envelope::Record);
    }
    path
}

fn write_manifest(root: &Path, key: &str, first_seq: u64, records: u64, envelope: Envelope) {
    let m = Manifest {
        key: key.to_owned(),
        stream: "customers".into(),
        instance: "ss-r".into(),
        records,
        first_seq,
        last_seq: first_seq + records - 1,
        uncompressed_bytes: 0,
        bytes: 0,
        sha256: String::new(),
        compression: Codec::Zstd,
        created_at: "2026-11-24T13:45:02.000Z".into(),
        envelope,
    };
    std::fs::write(
        root.join(records::landed::manifest_key(key)),
        serde_json::to_vec_pretty(&m).unwrap(),
    )
    .unwrap();
}

#[test]
fn record_files_load_under_a_record_spec_and_match_the_reference() {
    let tmp = tempfile::tempdir().unwrap();
    let landing = tmp.path().join("landing");
    let mut wh = Warehouse::open(&tmp.path().join("wh.db"), &spec(Envelope::Record)).unwrap();
    let events = random_events(7, 20, 4);
    let (a, b) = events.split_at(events.len() / 2);
    land_records(&landing, 1, a, true);
    land_records(&landing, 1 + a.len() as u64, b, true);
    let load = wh.load_new_files(&landing).unwrap();
    assert_eq!(
        (load.files_loaded, load.rows_loaded),
        (2, events.len() as u64),
        "{load:?}"
    );
    assert!(
        load.failed.is_empty() && load.rows_rejected == 0,
        "{load:?}"
    );
    // META is NULL (the lineage is the file name and the row number), RECORD the line itself.
    let rows = wh
        .query("SELECT COUNT(*) FROM customers_raw WHERE meta IS NULL AND json_extract(record, '$.id') IS NOT NULL")
        .unwrap()
        .rows;
    assert_eq!(rows, vec![vec![serde_json::json!(events.len())]]);
    wh.run_tasks().unwrap();
    let want = reference(&events);
    assert_eq!(wh.latest_rows().unwrap(), want.latest);
    assert_eq!(wh.history_rows().unwrap(), want.history);
    // Nothing twice.
    let again = wh.load_new_files(&landing).unwrap();
    assert_eq!((again.files_loaded, again.files_already_loaded), (0, 2));
}

#[test]
fn a_file_whose_manifest_disagrees_with_the_spec_is_refused_every_run() {
    let tmp = tempfile::tempdir().unwrap();
    let events = [Event::new(1, "A", 1, "I"), Event::new(2, "B", 2, "I")];

    // A record file under a meta spec: its lines would load as garbage without the check.
    let landing = tmp.path().join("l1");
    land_records(&landing, 1, &events, true);
    let mut wh = Warehouse::open(&tmp.path().join("m.db"), &spec(Envelope::Meta)).unwrap();
    for _ in 0..2 {
        let load = wh.load_new_files(&landing).unwrap();
        assert_eq!((load.files_loaded, load.rows_loaded), (0, 0), "{load:?}");
        assert_eq!(load.failed.len(), 1, "{load:?}");
        let e = &load.failed[0].error;
        assert!(
            e.contains("refused") && e.contains("envelope record") && e.contains("says meta"),
            "{e}"
        );
    }
    assert_eq!(wh.counts().unwrap().raw, 0);

    // A meta file (manifest says meta) under a record spec.
    let landing = tmp.path().join("l2");
    let path = land(&landing, "ss-1", 1, &events, false);
    let key = path
        .strip_prefix(&landing)
        .unwrap()
        .to_string_lossy()
        .into_owned();
    write_manifest(&landing, &key, 1, 2, Envelope::Meta);
    let mut wh = Warehouse::open(&tmp.path().join("r.db"), &spec(Envelope::Record)).unwrap();
    let load = wh.load_new_files(&landing).unwrap();
    assert_eq!((load.files_loaded, load.failed.len()), (0, 1), "{load:?}");
    assert!(load.failed[0].error.contains("says record"), "{load:?}");
    assert_eq!(wh.counts().unwrap().raw, 0);
}

#[test]
fn a_record_file_waits_for_its_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let landing = tmp.path().join("landing");
    let events = [Event::new(1, "A", 1, "I")];
    let path = land_records(&landing, 5, &events, false);
    let mut wh = Warehouse::open(&tmp.path().join("wh.db"), &spec(Envelope::Record)).unwrap();
    let load = wh.load_new_files(&landing).unwrap();
    assert_eq!((load.files_loaded, load.failed.len()), (0, 1), "{load:?}");
    let key = path
        .strip_prefix(&landing)
        .unwrap()
        .to_string_lossy()
        .into_owned();
    write_manifest(&landing, &key, 5, 1, Envelope::Record);
    let load = wh.load_new_files(&landing).unwrap();
    assert_eq!((load.files_loaded, load.rows_loaded), (1, 1), "{load:?}");
    // An old manifest without `envelope` means meta: refused under a record spec.
    let old = tmp.path().join("old");
    let path = land(&old, "ss-1", 1, &events, false);
    assert!(path.exists());
    let load = Warehouse::open(&tmp.path().join("o.db"), &spec(Envelope::Record))
        .unwrap()
        .load_new_files(&old)
        .unwrap();
    assert!(load.failed[0].error.contains("envelope meta"), "{load:?}");
}

#[test]
fn the_spec_names_its_envelope() {
    let base = include_str!("../../../../specs/customers.toml");
    assert_eq!(TableSpec::customers().envelope, Envelope::Meta);
    let record = TableSpec::parse(&format!("envelope = \"record\"\n{base}")).unwrap();
    assert_eq!(record.envelope, Envelope::Record);
    assert!(TableSpec::parse(&format!("envelope = \"both\"\n{base}")).is_err());
}
