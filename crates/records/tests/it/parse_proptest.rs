//! Random records serialized as NDJSON, JSON (array, pretty, concatenated) and CSV parse back
//! to the same records.

use proptest::prelude::*;
use records::{Format, parse};
use serde_json::{Map, Value};

fn parse_values(content: &[u8], format: Format) -> Vec<Value> {
    let mut out = Vec::new();
    let count = parse(content, format, &mut |r| {
        assert!(!r.contains(&b'\n') && !r.contains(&b'\r'));
        out.push(serde_json::from_slice::<Value>(r).expect("valid JSON"));
    })
    .unwrap_or_else(|e| panic!("{e} in {:?}", String::from_utf8_lossy(content)));
    assert_eq!(count, out.len() as u64);
    out
}

fn text() -> impl Strategy<Value = String> {
    // Quotes, backslashes, separators, line breaks, control characters and non-ASCII.
    proptest::string::string_regex("[a-zA-Z0-9 ,;\"'\\\\\n\r\t\u{1}é日🦀]{0,12}").unwrap()
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e12f64..1e12).prop_map(Value::from),
        text().prop_map(Value::String),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(text(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn object() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(text(), value(), 0..6)
        .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>()))
}

/// The records as parsed, as text: for JSON input they must equal the compact serialization.
fn parse_texts(content: &[u8], format: Format) -> Vec<String> {
    let mut out = Vec::new();
    parse(content, format, &mut |r| {
        out.push(String::from_utf8(r.to_vec()).unwrap())
    })
    .unwrap_or_else(|e| panic!("{e} in {:?}", String::from_utf8_lossy(content)));
    out
}

fn compact(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| serde_json::to_string(r).unwrap())
        .collect()
}

fn to_ndjson(records: &[Value], crlf: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        serde_json::to_writer(&mut out, r).unwrap();
        out.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn ndjson_round_trips(records in prop::collection::vec(object(), 0..8), crlf: bool) {
        let body = to_ndjson(&records, crlf);
        prop_assert_eq!(parse_texts(&body, Format::Ndjson), compact(&records));
        // NDJSON labelled JSON is accepted too.
        prop_assert_eq!(parse_texts(&body, Format::Json), compact(&records));
        prop_assert_eq!(parse_values(&body, Format::Ndjson).len(), records.len());
    }

    #[test]
    fn json_array_round_trips(records in prop::collection::vec(object(), 0..8), pretty: bool) {
        let array = Value::Array(records.clone());
        let body = if pretty {
            serde_json::to_vec_pretty(&array).unwrap()
        } else {
            serde_json::to_vec(&array).unwrap()
        };
        prop_assert_eq!(parse_texts(&body, Format::Json), compact(&records));
    }

    #[test]
    fn concatenated_pretty_objects_round_trip(records in prop::collection::vec(object(), 0..8)) {
        let mut body = Vec::new();
        for r in &records {
            body.extend(serde_json::to_vec_pretty(r).unwrap());
        }
        prop_assert_eq!(parse_texts(&body, Format::Json), compact(&records));
    }

    #[test]
    fn csv_round_trips(
        header in prop::collection::btree_set("[a-z][a-z0-9_ ]{0,6}", 1..6),
        cells in prop::collection::vec(prop::collection::vec(text(), 6), 0..8),
        crlf: bool,
        bom: bool,
    ) {
        let header: Vec<String> = header.into_iter().collect();
        let rows: Vec<Vec<String>> = cells
            .into_iter()
            .map(|row| row.into_iter().take(header.len()).collect())
            .collect();
        let terminator = if crlf { csv::Terminator::CRLF } else { csv::Terminator::Any(b'\n') };
        let mut writer = csv::WriterBuilder::new().terminator(terminator).from_writer(Vec::new());
        writer.write_record(&header).unwrap();
        for row in &rows {
            writer.write_record(row).unwrap();
        }
        let mut body = if bom { "\u{feff}".as_bytes().to_vec() } else { Vec::new() };
        body.extend(writer.into_inner().unwrap());

        let expected: Vec<Value> = rows
            .iter()
            .map(|row| {
                Value::Object(
                    header.iter().cloned().zip(row.iter().cloned().map(Value::String)).collect(),
                )
            })
            .collect();
        prop_assert_eq!(parse_values(&body, Format::Csv), expected);
    }
}
