//! `fill_batch`: content of any format into a batch, one group per non-empty content.

use records::batch::{Entry, Payload};
use records::{Batch, Format, fill_batch};

fn entries(batch: Batch) -> Vec<String> {
    let bytes = batch.into_payload(7);
    let payload = Payload::parse(&bytes).unwrap();
    assert_eq!(payload.first_seq, 7);
    payload
        .entries()
        .map(|e| match e.expect("well formed") {
            Entry::Group(g) => format!("G{}", String::from_utf8_lossy(g)),
            Entry::Record(r) => format!("R{}", String::from_utf8_lossy(r)),
        })
        .collect()
}

/// [`fill_batch`] with `content` named `filename`.
fn fill(
    batch: &mut Batch,
    filename: &str,
    content: &[u8],
    format: Format,
) -> Result<u64, records::FillError> {
    fill_batch(batch, &[("filename", filename)], content, format)
}

#[test]
fn each_content_is_one_group_with_its_attributes() {
    let mut batch = Batch::new(chrono::Utc::now());
    let csv = b"id,name\n1,Ada\n2,Grace\n";
    let n = fill(&mut batch, "a.csv", csv, Format::Csv).unwrap();
    assert_eq!(n, 2);
    let attrs = vec![("filename".to_owned(), "b.ndjson".to_owned())];
    assert_eq!(
        fill_batch(&mut batch, &attrs, b"{\"id\":3}\n", Format::Ndjson).unwrap(),
        1
    );
    assert_eq!(batch.records(), 3);
    assert_eq!(
        entries(batch),
        [
            r#"G{"filename":"a.csv"}"#,
            r#"R{"id":"1","name":"Ada"}"#,
            r#"R{"id":"2","name":"Grace"}"#,
            r#"G{"filename":"b.ndjson"}"#,
            r#"R{"id":3}"#,
        ]
    );
}

#[test]
fn empty_content_adds_no_group() {
    let mut batch = Batch::new(chrono::Utc::now());
    assert_eq!(
        fill(&mut batch, "empty.json", b"  \n", Format::Json).unwrap(),
        0
    );
    assert_eq!(batch.records(), 0);
    assert!(entries(batch).is_empty());
}

#[test]
fn the_error_names_the_line_of_the_bad_record() {
    let mut batch = Batch::new(chrono::Utc::now());
    let bad = b"{\"id\":1}\n{\"id\":2}\n{\"id\":3,]\n";
    let records::FillError::Parse(err) =
        fill(&mut batch, "bad.ndjson", bad, Format::Ndjson).unwrap_err()
    else {
        panic!("a parse error")
    };
    assert_eq!((err.line, err.record), (3, 3));
    assert!(err.to_string().starts_with("line 3 (record 3): "), "{err}");
}

#[test]
fn a_wide_csv_header_over_many_rows_stops_at_the_limit() {
    // One 8 KiB header name and 200,000 one-character rows: 400 KB of content that would
    // expand to 1.6 GB of records. Parsing stops at the first row past the limit.
    let mut csv = "k".repeat(8 << 10).into_bytes();
    csv.extend_from_slice(&b"\nx".repeat(200_000));
    let mut batch = Batch::new(chrono::Utc::now());
    batch.set_limit(4 << 20);
    let err = fill(&mut batch, "wide.csv", &csv, Format::Csv).unwrap_err();
    assert_eq!(
        err,
        records::FillError::TooLarge(records::batch::TooLarge { limit: 4 << 20 })
    );
    assert!(batch.expanded_len() <= 4 << 20);
    assert!(batch.packed_len() <= 4 << 20);
    assert!(
        batch.records() > 100 && batch.records() < 600,
        "{}",
        batch.records()
    );
}

#[test]
fn a_rollback_takes_back_a_half_filled_content_exactly() {
    let now = chrono::Utc::now();
    let mut batch = Batch::new(now);
    let attrs = [("filename", "good.ndjson")];
    fill_batch(&mut batch, &attrs, b"{\"id\":1}\n", Format::Ndjson).unwrap();
    let at = batch.checkpoint();
    let (records, expanded, bytes) = (batch.records(), batch.expanded_len(), batch.packed_len());
    // Its first line parses and is added before the second fails.
    let bad = [("filename", "bad.ndjson")];
    fill_batch(&mut batch, &bad, b"{\"id\":2}\nnot json\n", Format::Ndjson).unwrap_err();
    assert_eq!(
        batch.records(),
        records + 1,
        "the bad content left a record"
    );
    batch.rollback(at);
    assert_eq!(
        (batch.records(), batch.expanded_len(), batch.packed_len()),
        (records, expanded, bytes)
    );
    fill_batch(&mut batch, &attrs, b"{\"id\":3}\n", Format::Ndjson).unwrap();
    assert_eq!(
        entries(batch),
        [
            "G{\"filename\":\"good.ndjson\"}",
            "R{\"id\":1}",
            "G{\"filename\":\"good.ndjson\"}",
            "R{\"id\":3}"
        ]
    );
}
