//! CSV: a header row, then rows -> objects of strings keyed by the header.

use std::collections::HashSet;

use super::ParseError;

pub(super) fn parse_csv(content: &[u8], emit: &mut dyn FnMut(&[u8])) -> Result<u64, ParseError> {
    if content.iter().all(u8::is_ascii_whitespace) {
        return Ok(0);
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(content);
    let header = reader.headers().map_err(|e| csv_error(&e, 0))?.clone();
    let keys = header_keys(&header)?;

    let mut count = 0u64;
    let mut row = csv::StringRecord::new();
    let mut out = Vec::with_capacity(256);
    loop {
        match reader.read_record(&mut row) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_error(&e, count + 1)),
        }
        out.clear();
        out.push(b'{');
        for (i, (key, value)) in keys.iter().zip(row.iter()).enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(key);
            out.push(b':');
            serde_json::to_writer(&mut out, value).expect("writing a string to a Vec cannot fail");
        }
        out.push(b'}');
        emit(&out);
        count += 1;
    }
    Ok(count)
}

/// The header names as JSON string literals; empty or repeated names are refused.
fn header_keys(header: &csv::StringRecord) -> Result<Vec<Vec<u8>>, ParseError> {
    let line = header.position().map_or(1, |p| p.line());
    let error = |message: String| ParseError {
        line,
        record: 0,
        message,
    };
    let mut seen = HashSet::new();
    let mut keys = Vec::with_capacity(header.len());
    for (i, name) in header.iter().enumerate() {
        if name.trim().is_empty() {
            return Err(error(format!("CSV header column {} has no name", i + 1)));
        }
        if !seen.insert(name) {
            return Err(error(format!(
                "CSV header names column {name:?} more than once"
            )));
        }
        keys.push(serde_json::to_vec(name).expect("serializing a string cannot fail"));
    }
    Ok(keys)
}

fn csv_error(err: &csv::Error, record: u64) -> ParseError {
    let line = err.position().map_or(1, |p| p.line());
    let message = match err.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("the row has {len} fields but the header has {expected_len}"),
        csv::ErrorKind::Utf8 { err, .. } => {
            format!("field {} is not valid UTF-8", err.field() + 1)
        }
        _ => format!("invalid CSV: {err}"),
    };
    ParseError {
        line,
        record,
        message,
    }
}
