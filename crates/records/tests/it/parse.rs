//! Record parser: formats, every accepted shape of content, and error positions.

use records::{Format, ParseError, parse};
use serde_json::{Value, json};

/// Parses and checks that every emitted record is a single-line JSON object.
fn records(content: &[u8], format: Format) -> Result<Vec<String>, ParseError> {
    let mut out = Vec::new();
    let count = parse(content, format, &mut |r| {
        let text = std::str::from_utf8(r)
            .expect("records are UTF-8")
            .to_owned();
        assert!(
            !text.contains('\n') && !text.contains('\r'),
            "multi-line record {text:?}"
        );
        let value: Value = serde_json::from_str(&text).expect("records are valid JSON");
        assert!(value.is_object(), "{text}");
        out.push(text);
    })?;
    assert_eq!(count, out.len() as u64);
    Ok(out)
}

fn values(content: &str, format: Format) -> Vec<Value> {
    records(content.as_bytes(), format)
        .unwrap()
        .iter()
        .map(|r| serde_json::from_str(r).unwrap())
        .collect()
}

fn error(content: &str, format: Format) -> ParseError {
    records(content.as_bytes(), format).unwrap_err()
}

// ---- formats ----

#[test]
fn format_from_mime() {
    for (mime, format) in [
        ("application/json", Some(Format::Json)),
        ("Application/JSON; charset=utf-8", Some(Format::Json)),
        ("text/json", Some(Format::Json)),
        ("application/x-ndjson", Some(Format::Ndjson)),
        ("application/ndjson", Some(Format::Ndjson)),
        ("application/jsonl", Some(Format::Ndjson)),
        ("application/x-jsonlines ; foo=bar", Some(Format::Ndjson)),
        ("application/json-seq", Some(Format::Ndjson)),
        ("text/csv", Some(Format::Csv)),
        ("TEXT/CSV;header=present", Some(Format::Csv)),
        ("application/csv", Some(Format::Csv)),
        ("application/octet-stream", None),
        ("application/flowfile-v3", None),
        ("", None),
        ("application/jsonx", None),
    ] {
        assert_eq!(Format::from_mime(mime), format, "{mime:?}");
    }
}

#[test]
fn format_from_name_and_extension() {
    assert_eq!(Format::from_name("json"), Some(Format::Json));
    assert_eq!(Format::from_name("NDJSON"), Some(Format::Ndjson));
    assert_eq!(Format::from_name("csv"), Some(Format::Csv));
    assert_eq!(Format::from_name("xml"), None);
    for format in [Format::Json, Format::Ndjson, Format::Csv] {
        assert_eq!(Format::from_name(format.name()), Some(format));
        assert_eq!(format.to_string(), format.name());
    }
    for (key, format) in [
        ("in/customers.csv", Some(Format::Csv)),
        ("in/customers.CSV.gz", Some(Format::Csv)),
        ("a.json", Some(Format::Json)),
        ("a.json.gz", Some(Format::Json)),
        ("dir.csv/a.ndjson", Some(Format::Ndjson)),
        ("x/y.jsonl", Some(Format::Ndjson)),
        ("x/y.jsonl.gz", Some(Format::Ndjson)),
        ("x/y.txt", None),
        ("x/y.gz", None),
        ("x/json", None),
        ("x/.json", None),
        ("", None),
    ] {
        assert_eq!(Format::from_extension(key), format, "{key:?}");
    }
}

#[test]
fn format_mime_extension_and_parse_from_text() {
    for (format, mime, ext) in [
        (Format::Json, "application/json", "json"),
        (Format::Ndjson, "application/x-ndjson", "ndjson"),
        (Format::Csv, "text/csv", "csv"),
    ] {
        assert_eq!((format.mime(), format.extension()), (mime, ext));
        assert_eq!(format.name().parse::<Format>(), Ok(format));
    }
    assert_eq!(" JsonL ".parse::<Format>(), Ok(Format::Ndjson));
    let err = "xml".parse::<Format>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown record format \"xml\" (expected json, ndjson or csv)"
    );
}

#[test]
fn format_deserializes_from_its_name() {
    #[derive(serde::Deserialize)]
    struct Settings {
        format: Format,
    }
    let s: Settings = toml::from_str("format = \"csv\"").unwrap();
    assert_eq!(s.format, Format::Csv);
    let s: Settings = toml::from_str("format = \"NDJSON\"").unwrap();
    assert_eq!(s.format, Format::Ndjson);
    let err = toml::from_str::<Settings>("format = \"xml\"")
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("unknown record format \"xml\""), "{err}");
}

// ---- JSON ----

#[test]
fn json_single_object_is_emitted_verbatim() {
    let body =
        br#"  {"id": 1, "name":"Ann",  "n": 1.50e3, "big": 123456789012345678901234567890}  "#;
    let out = records(body, Format::Json).unwrap();
    assert_eq!(
        out,
        vec![r#"{"id": 1, "name":"Ann",  "n": 1.50e3, "big": 123456789012345678901234567890}"#]
    );
}

#[test]
fn json_array_of_objects() {
    let out = records(br#"[{"a":1}, {"b":[1,2]} ,{"c":{"d":null}}]"#, Format::Json).unwrap();
    assert_eq!(
        out,
        vec![r#"{"a":1}"#, r#"{"b":[1,2]}"#, r#"{"c":{"d":null}}"#]
    );
    assert_eq!(records(b"[]", Format::Json).unwrap(), Vec::<String>::new());
    assert_eq!(
        records(b" [ ] \n", Format::Json).unwrap(),
        Vec::<String>::new()
    );
}

#[test]
fn json_concatenated_objects_with_and_without_whitespace() {
    let out = records(
        b"{\"a\":1}{\"b\":2}\n{\"c\":3}\r\n\r\n  {\"d\":4}",
        Format::Json,
    )
    .unwrap();
    assert_eq!(
        out,
        vec![r#"{"a":1}"#, r#"{"b":2}"#, r#"{"c":3}"#, r#"{"d":4}"#]
    );
    // Several arrays, and arrays mixed with objects.
    let out = records(b"[{\"a\":1}][{\"b\":2}]{\"c\":3}", Format::Json).unwrap();
    assert_eq!(out, vec![r#"{"a":1}"#, r#"{"b":2}"#, r#"{"c":3}"#]);
}

#[test]
fn json_pretty_printed_objects_become_single_lines() {
    let pretty = "[\n  {\n    \"id\": 1,\n    \"address\": \"1 Main St\\nApt 2\",\n    \"tags\": [\n      \"a b\",\n      \"c\"\n    ]\n  },\r\n  {\r\n \"id\": 2\r\n }\n]\n";
    let out = records(pretty.as_bytes(), Format::Json).unwrap();
    assert_eq!(
        out,
        vec![
            r#"{"id":1,"address":"1 Main St\nApt 2","tags":["a b","c"]}"#,
            r#"{"id":2}"#
        ]
    );
    let expected: Value = serde_json::from_str(pretty).unwrap();
    let got: Vec<Value> = out
        .iter()
        .map(|r| serde_json::from_str(r).unwrap())
        .collect();
    assert_eq!(Value::Array(got), expected);
}

#[test]
fn json_unicode_is_kept() {
    let body =
        "{\"name\":\"Zoë 🎉 日本\",\"esc\":\"caf\\u00e9 \\ud83c\\udf89\",\"ключ\":\"значение\"}";
    let out = records(body.as_bytes(), Format::Json).unwrap();
    assert_eq!(out, vec![body]);
    assert_eq!(values(body, Format::Json)[0]["esc"], json!("café 🎉"));
}

#[test]
fn json_non_object_records_are_errors_naming_the_line() {
    let err = error("{\"a\":1}\n\n42\n", Format::Json);
    assert_eq!((err.line, err.record), (3, 2));
    assert_eq!(
        err.to_string(),
        "line 3 (record 2): expected a JSON object, found a number"
    );
    let err = error("\"just a string\"", Format::Json);
    assert_eq!((err.line, err.record), (1, 1));
    assert!(err.message.contains("found a string"), "{err}");
    let err = error("{\"a\":1} null", Format::Json);
    assert!(err.message.contains("found null"), "{err}");
    let err = error("[[{\"a\":1}]]", Format::Json);
    assert!(err.message.contains("found an array"), "{err}");
}

#[test]
fn json_array_with_non_object_item_names_its_line() {
    let err = error("[\n{\"a\":1},\n{\"b\":2},\n true\n]", Format::Json);
    assert_eq!((err.line, err.record), (4, 3));
    assert_eq!(
        err.to_string(),
        "line 4 (record 3): expected a JSON object in the array, found a boolean"
    );
}

#[test]
fn json_syntax_errors_name_the_line() {
    let err = error("{\"a\":1}\n{\"b\":2}\n{\"c\":}\n", Format::Json);
    assert_eq!((err.line, err.record), (3, 3));
    assert!(err.message.starts_with("invalid JSON"), "{err}");
    let err = error("{\n\"a\": 1,\n\"b\": [1, 2\n", Format::Json);
    assert_eq!(err.record, 1);
    assert!(err.line >= 3, "{err}");
    let err = error("[{\"a\":1},\n{\"b\":2}\n,]", Format::Json);
    assert_eq!(err.line, 3, "{err}");
}

#[test]
fn empty_and_whitespace_content_is_zero_records() {
    for format in [Format::Json, Format::Ndjson, Format::Csv] {
        for body in ["", " ", "\n\n", " \r\n\t ", "\u{feff}", "\u{feff}\n"] {
            assert_eq!(
                records(body.as_bytes(), format).unwrap(),
                Vec::<String>::new(),
                "{format} {body:?}"
            );
        }
    }
}

#[test]
fn byte_order_mark_is_ignored() {
    let out = records("\u{feff}{\"a\":1}".as_bytes(), Format::Json).unwrap();
    assert_eq!(out, vec![r#"{"a":1}"#]);
    let out = records("\u{feff}{\"a\":1}\n{\"b\":2}\n".as_bytes(), Format::Ndjson).unwrap();
    assert_eq!(out, vec![r#"{"a":1}"#, r#"{"b":2}"#]);
}

#[test]
fn invalid_utf8_is_an_error() {
    let err = records(b"{\"a\":\"\xff\"}", Format::Json).unwrap_err();
    assert_eq!(err.line, 1);
    let err = records(b"{\"a\":1}\n{\"a\":\"\xc3\x28\"}\n", Format::Ndjson).unwrap_err();
    assert_eq!((err.line, err.record), (2, 2));
}

// ---- NDJSON ----

#[test]
fn ndjson_lines_blank_lines_crlf_and_missing_final_newline() {
    let body = "{\"a\":1}\r\n\r\n   \n{\"b\": \"x y\"}\n\t{\"c\":3}  \r\n{\"d\":4}";
    let out = records(body.as_bytes(), Format::Ndjson).unwrap();
    assert_eq!(
        out,
        vec![r#"{"a":1}"#, r#"{"b": "x y"}"#, r#"{"c":3}"#, r#"{"d":4}"#]
    );
}

#[test]
fn ndjson_bad_lines_are_errors_naming_the_line() {
    let err = error("{\"a\":1}\n\n[1,2]\n{\"b\":2}\n", Format::Ndjson);
    assert_eq!(
        err.to_string(),
        "line 3 (record 2): expected a JSON object, found an array"
    );
    let err = error("{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n{\"a\":\n", Format::Ndjson);
    assert_eq!((err.line, err.record), (4, 4));
    assert!(err.message.starts_with("invalid JSON"), "{err}");
    // Two objects on one line are not NDJSON.
    let err = error("{\"a\":1}\n{\"a\":2} {\"a\":3}\n", Format::Ndjson);
    assert_eq!((err.line, err.record), (2, 2));
    // Pretty-printed JSON is not NDJSON either.
    let err = error("{\n  \"a\": 1\n}\n", Format::Ndjson);
    assert_eq!((err.line, err.record), (1, 1));
    let err = error("{\"a\":1}\nnot json\n", Format::Ndjson);
    assert_eq!((err.line, err.record), (2, 2));
    let err = error("\"text\"\n", Format::Ndjson);
    assert!(err.message.contains("found a string"), "{err}");
}

#[test]
fn ndjson_records_before_an_error_are_emitted() {
    let mut seen = Vec::new();
    let err = parse(b"{\"a\":1}\n{\"b\":2}\n3\n", Format::Ndjson, &mut |r| {
        seen.push(r.to_vec())
    })
    .unwrap_err();
    assert_eq!(err.record, 3);
    assert_eq!(seen, vec![b"{\"a\":1}".to_vec(), b"{\"b\":2}".to_vec()]);
}

#[test]
fn ndjson_json_text_sequences() {
    let out = records(b"\x1e{\"a\":1}\n\x1e{\"b\":2}\n", Format::Ndjson).unwrap();
    assert_eq!(out, vec![r#"{"a":1}"#, r#"{"b":2}"#]);
}

#[test]
fn ndjson_unicode_lines() {
    let body = "{\"name\":\"Ærøskøbing\"}\n{\"emoji\":\"🦀\"}\n";
    let out = records(body.as_bytes(), Format::Ndjson).unwrap();
    assert_eq!(out, vec!["{\"name\":\"Ærøskøbing\"}", "{\"emoji\":\"🦀\"}"]);
}

// ---- CSV ----

#[test]
fn csv_rows_become_objects_of_strings() {
    let body = "id,name,score\n1,Ann,9.5\n2,Bob,\n";
    assert_eq!(
        values(body, Format::Csv),
        vec![
            json!({"id":"1","name":"Ann","score":"9.5"}),
            json!({"id":"2","name":"Bob","score":""}),
        ]
    );
    // Keys come in header order.
    let out = records(body.as_bytes(), Format::Csv).unwrap();
    assert_eq!(out[0], r#"{"id":"1","name":"Ann","score":"9.5"}"#);
}

#[test]
fn csv_quoted_fields_with_newlines_and_quotes() {
    let body = "id,address,note\r\n\
                1,\"12 Main St\nApt 3\nSpringfield\",\"she said \"\"hi\"\", then left\"\r\n\
                2,\"a,b\",\"back\\slash\"\r\n";
    assert_eq!(
        values(body, Format::Csv),
        vec![
            json!({"id":"1","address":"12 Main St\nApt 3\nSpringfield","note":"she said \"hi\", then left"}),
            json!({"id":"2","address":"a,b","note":"back\\slash"}),
        ]
    );
}

#[test]
fn csv_bom_crlf_and_missing_final_newline() {
    let body = "\u{feff}id,name\r\n1,Zoë\r\n2,日本";
    assert_eq!(
        values(body, Format::Csv),
        vec![
            json!({"id":"1","name":"Zoë"}),
            json!({"id":"2","name":"日本"})
        ]
    );
    assert_eq!(values("id,name\n", Format::Csv), Vec::<Value>::new());
    assert_eq!(values("id,name", Format::Csv), Vec::<Value>::new());
}

#[test]
fn csv_row_with_wrong_field_count_names_its_line() {
    // Row 1 spans lines 2-3, so the bad row 2 starts on line 4.
    let err = error("id,address\n1,\"a\nb\"\n2,x,extra\n3,y\n", Format::Csv);
    assert_eq!((err.line, err.record), (4, 2));
    assert_eq!(
        err.to_string(),
        "line 4 (record 2): the row has 3 fields but the header has 2"
    );
    let err = error("a,b,c\n1,2,3\n1,2\n", Format::Csv);
    assert_eq!((err.line, err.record), (3, 2));
}

#[test]
fn csv_bad_headers_are_errors() {
    let err = error("id,name,id\n1,a,2\n", Format::Csv);
    assert_eq!((err.line, err.record), (1, 0));
    assert_eq!(
        err.to_string(),
        "line 1 (header): CSV header names column \"id\" more than once"
    );
    let err = error("id,,name\n1,2,3\n", Format::Csv);
    assert!(err.message.contains("column 2 has no name"), "{err}");
    let err = error("\u{feff}id, \n1,2\n", Format::Csv);
    assert!(err.message.contains("column 2 has no name"), "{err}");
}

#[test]
fn csv_invalid_utf8_names_the_line() {
    let err = records(b"a,b\n1,2\n3,\xff\n", Format::Csv).unwrap_err();
    assert_eq!((err.line, err.record), (3, 2));
    assert!(err.message.contains("UTF-8"), "{err}");
}

#[test]
fn csv_unterminated_quote_at_the_end_is_an_error() {
    let err = error("id,name\n1,a\n2,\"unterminated\n", Format::Csv);
    assert_eq!((err.line, err.record), (3, 2));
    assert!(err.message.contains("not closed"), "{err}");
    let err = error("id,\"name\n1,a\n", Format::Csv);
    assert_eq!((err.line, err.record), (1, 0));
    // Closed quotes, escaped quotes and literal quotes inside unquoted fields are fine.
    assert_eq!(
        values("id,name\n1,\"a \"\"b\"\"\"\n2,c\"d\n", Format::Csv),
        vec![
            json!({"id":"1","name":"a \"b\""}),
            json!({"id":"2","name":"c\"d"})
        ]
    );
}

/// Found by `scripts/fuzz.sh` (records/parse): a CSV header named like serde_json's private
/// RawValue marker is data like any other name, kept verbatim as the record's key.
#[test]
fn a_csv_header_named_like_serde_internals_is_just_a_name() {
    // (Not through `records()`: a serde_json Value tree itself misreads that key.)
    let content = b"\n\n$serde_json::private::RawValue\n\n [\t\t=\t\n";
    let mut out = Vec::new();
    let count = parse(content, Format::Csv, &mut |r| out.push(r.to_vec())).unwrap();
    assert_eq!(count, 1);
    assert_eq!(
        String::from_utf8(out.remove(0)).unwrap(),
        "{\"$serde_json::private::RawValue\":\" [\\t\\t=\\t\"}"
    );
}
