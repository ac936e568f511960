//! CSV: a header row, then rows -> objects of strings keyed by the header.

use std::collections::HashSet;

use super::ParseError;

pub(super) fn parse_csv(
    content: &[u8],
    emit: &mut dyn FnMut(&[u8]) -> bool,
) -> Result<u64, ParseError> {
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
    let mut last_start = header.position().map_or((0, 1), |p| (p.byte(), p.line()));
    let mut row = csv::StringRecord::new();
    let mut out = Vec::with_capacity(256);
    loop {
        match reader.read_record(&mut row) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_error(&e, count + 1)),
        }
        if let Some(p) = row.position() {
            last_start = (p.byte(), p.line());
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
        if !emit(&out) {
            return Ok(count);
        }
        count += 1;
    }
    // The csv crate ends a quoted field that is still open at the end of the content without
    // complaint; that is a truncated or malformed body, not data.
    let (start, line) = last_start;
    let start = usize::try_from(start)
        .unwrap_or(usize::MAX)
        .min(content.len());
    if ends_inside_quotes(&content[start..]) {
        return Err(ParseError::new(
            line,
            count,
            "a quoted CSV field is not closed before the end of the content",
        ));
    }
    Ok(count)
}

/// Whether `tail` (starting at a record boundary) ends inside a quoted field, following the
/// csv crate's reading: a quote opens a field only at its start, `""` inside is a quote.
fn ends_inside_quotes(tail: &[u8]) -> bool {
    let mut in_quotes = false;
    let mut field_start = true;
    let mut i = 0;
    while i < tail.len() {
        let b = tail[i];
        i += 1;
        if in_quotes {
            if b == b'"' {
                if tail.get(i) == Some(&b'"') {
                    i += 1;
                } else {
                    in_quotes = false;
                }
            }
            continue;
        }
        match b {
            b'"' if field_start => in_quotes = true,
            b',' | b'\n' | b'\r' => {
                field_start = true;
                continue;
            }
            _ => {}
        }
        field_start = false;
    }
    in_quotes
}

/// The header names as JSON string literals; empty or repeated names are refused.
fn header_keys(header: &csv::StringRecord) -> Result<Vec<Vec<u8>>, ParseError> {
    let line = header.position().map_or(1, |p| p.line());
    let error = |message: String| ParseError::new(line, 0, message);
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
    ParseError::new(line, record, message)
}

#[cfg(test)]
mod tests {
    use super::ends_inside_quotes;

    #[test]
    fn open_quotes_at_the_end_are_found() {
        assert!(ends_inside_quotes(b"2,\"unterminated\n"));
        assert!(ends_inside_quotes(b"2,\"a\"\"b\n"));
        assert!(!ends_inside_quotes(b"2,\"a\"\"b\"\n"));
        assert!(!ends_inside_quotes(b"2,ab\"c\n"));
        assert!(!ends_inside_quotes(b"\"x\ny\",\"\"\r\n"));
        assert!(!ends_inside_quotes(b""));
    }
}
