//! Wire formats: every format round-trips, CSV keeps multi-line addresses, FlowFile
//! attributes, and files in a folder.

use generator::{
    COLUMNS, Config, Customer, EventTime, Format, Op, decode_batch, encode_batch,
    encode_batch_with, generate, write_files,
};
use records::Format::{Csv, Json, Ndjson};

fn sample() -> Vec<Customer> {
    generate(&Config {
        seed: 21,
        initial_customers: 40,
        changes: 160,
        ..Config::tricky()
    })
}

#[test]
fn every_format_round_trips() {
    let records = sample();
    for format in Format::ALL {
        let (bytes, content_type) = encode_batch(&records, format);
        assert_eq!(content_type, format.content_type());
        assert_eq!(decode_batch(&bytes, format).unwrap(), records, "{format}");
    }
}

#[test]
fn csv_has_the_seed_columns_and_quotes_multi_line_addresses() {
    let tricky = Customer {
        id: 7,
        name: "Zoë \"Zo\" O'Neil".into(),
        phone_number: "+1 (555) 010-0199 x12".into(),
        email: "zoe@example.com".into(),
        address: "12 Elm St\nApt. 4, rear\nSpringfield, IL 62701".into(),
        country: "Côte d'Ivoire".into(),
        job: "Engineer, chemical".into(),
        updated_at: EventTime::from_millis(1_767_225_600_123),
        op: Op::Update,
    };
    let (bytes, _) = encode_batch(std::slice::from_ref(&tricky), Format::Records(Csv));
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(
        text.starts_with(&format!("{}\n", COLUMNS.join(","))),
        "{text}"
    );
    assert!(
        text.contains("\"12 Elm St\nApt. 4, rear\nSpringfield, IL 62701\""),
        "{text}"
    );
    assert!(text.contains(",2026-01-01T00:00:00.123Z,U\n"), "{text}");
    assert_eq!(
        decode_batch(&bytes, Format::Records(Csv)).unwrap(),
        vec![tricky]
    );

    let (empty, _) = encode_batch(&[], Format::Records(Csv));
    assert_eq!(
        String::from_utf8(empty).unwrap(),
        format!("{}\n", COLUMNS.join(","))
    );
    let bad = b"Id,name\n1,x\n";
    let err = decode_batch(bad, Format::Records(Csv))
        .unwrap_err()
        .to_string();
    assert!(err.contains("header"), "{err}");
}

#[test]
fn json_and_ndjson_use_contract_2_types() {
    let records = sample();
    let (json, _) = encode_batch(&records[..2], Format::Records(Json));
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert!(v[0]["id"].is_u64());
    assert_eq!(v[0]["op"], "I");
    let keys: Vec<&str> = v[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut want = COLUMNS.to_vec();
    want.sort();
    let mut keys = keys;
    keys.sort();
    assert_eq!(keys, want);
    let (nd, _) = encode_batch(&records[..3], Format::Records(Ndjson));
    assert_eq!(nd.iter().filter(|b| **b == b'\n').count(), 3);
}

#[test]
fn flowfile_packages_carry_one_record_each_with_attributes() {
    let records = sample();
    let attrs = vec![
        ("source".to_string(), "crm".to_string()),
        ("filename".to_string(), "override.json".to_string()),
    ];
    let (bytes, _) = encode_batch_with(&records[..3], Format::FlowFileV3, &attrs);
    let files =
        flowfile::decode_all(flowfile::Version::V3, &bytes, flowfile::Limits::default()).unwrap();
    assert_eq!(files.len(), 3);
    for (f, r) in files.iter().zip(&records) {
        let get = |k: &str| {
            f.attributes
                .iter()
                .find(|(a, _)| a == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("mime.type"), Some("application/json"));
        assert_eq!(get("source"), Some("crm"));
        assert_eq!(get("filename"), Some("override.json"));
        let back: Customer = serde_json::from_slice(&f.content).unwrap();
        assert_eq!(&back, r);
    }
}

#[test]
fn files_sort_in_delivery_order_and_hold_the_records() {
    let records = sample();
    let dir = tempfile::tempdir().unwrap();
    let paths = write_files(dir.path(), &records, 30, Format::Records(Csv)).unwrap();
    assert_eq!(paths.len(), records.len().div_ceil(30));
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let written: Vec<String> = paths
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names, written,
        "name order must be delivery order, and no temp files left"
    );
    assert!(names[0].starts_with("customers_2026") && names[0].ends_with("_000001.csv"));
    let mut back = Vec::new();
    for p in &paths {
        back.extend(decode_batch(&std::fs::read(p).unwrap(), Format::Records(Csv)).unwrap());
    }
    assert_eq!(back, records);
}
