//! JSON and NDJSON: validate with serde_json (`&RawValue`, no value trees), emit original bytes.

use serde_json::value::RawValue;

use super::keys::KeyCheck;
use super::{ParseError, line_at};

/// The largest record Snowflake can load into a VARIANT: "up to 128 MB of uncompressed data"
/// ("Semi-structured data types", VARIANT). A larger one is a load error there, which for
/// JSON skips the rest of its file, so it is refused here.
const VARIANT_MAX_BYTES: usize = 128_000_000;

/// The error for a record of `len` bytes past [`VARIANT_MAX_BYTES`]; `line` is only asked
/// then (finding a line in a JSON body means counting the line breaks before it).
fn over_variant_limit(len: usize, line: impl FnOnce() -> u64, record: u64) -> Option<ParseError> {
    (len > VARIANT_MAX_BYTES).then(|| {
        ParseError::new(
            line(),
            record,
            format!(
                "the record is {len} bytes, over the {VARIANT_MAX_BYTES} bytes Snowflake loads \
                 into one VARIANT"
            ),
        )
    })
}

/// Objects, arrays of objects, or several of them one after another.
pub(super) fn parse_json(
    content: &[u8],
    emit: &mut dyn FnMut(&[u8]) -> bool,
) -> Result<u64, ParseError> {
    let mut count = 0u64;
    let mut scratch = Vec::new();
    let mut keys = KeyCheck::default();
    let stream = serde_json::Deserializer::from_slice(content).into_iter::<&RawValue>();
    for value in stream {
        let value = value.map_err(|e| syntax_error(&e, e.line().max(1) as u64, count + 1))?;
        let raw = value.get().as_bytes();
        match raw.first() {
            Some(b'{') => {
                if !take_object(content, raw, count + 1, &mut keys, &mut scratch, emit)? {
                    return Ok(count);
                }
                count += 1;
            }
            Some(b'[') => {
                // Already validated as a whole: only the item kinds are left to check.
                let items: Vec<&RawValue> = serde_json::from_str(value.get()).map_err(|e| {
                    syntax_error(&e, line_at(content, offset_in(content, raw)), count + 1)
                })?;
                for item in items {
                    let item = item.get().as_bytes();
                    if item.first() != Some(&b'{') {
                        return Err(not_an_object(content, item, count + 1, " in the array"));
                    }
                    if !take_object(content, item, count + 1, &mut keys, &mut scratch, emit)? {
                        return Ok(count);
                    }
                    count += 1;
                }
            }
            _ => return Err(not_an_object(content, raw, count + 1, "")),
        }
    }
    Ok(count)
}

/// One object of a JSON body (alone or in an array), record number `record`: under VARIANT's
/// size limit, no key twice, then emitted. Returns what `emit` said: whether to go on.
fn take_object(
    content: &[u8],
    raw: &[u8],
    record: u64,
    keys: &mut KeyCheck,
    scratch: &mut Vec<u8>,
    emit: &mut dyn FnMut(&[u8]) -> bool,
) -> Result<bool, ParseError> {
    let line = || line_at(content, offset_in(content, raw));
    if let Some(e) = over_variant_limit(raw.len(), line, record) {
        return Err(e);
    }
    no_duplicate_key(keys, content, raw, record)?;
    Ok(emit_record(raw, scratch, emit))
}

/// One object per line; blank (whitespace-only) lines are skipped. A leading RS (0x1E, JSON
/// text sequences) on a line is ignored.
pub(super) fn parse_ndjson(
    content: &[u8],
    emit: &mut dyn FnMut(&[u8]) -> bool,
) -> Result<u64, ParseError> {
    let mut count = 0u64;
    let mut scratch = Vec::new();
    let mut keys = KeyCheck::default();
    let mut line_no = 0u64;
    let mut rest = content;
    while !rest.is_empty() {
        line_no += 1;
        let (line, next) = match memchr::memchr(b'\n', rest) {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        rest = next;
        let line = trim(line.strip_prefix(b"\x1e").unwrap_or(line));
        if line.is_empty() {
            continue;
        }
        let record = count + 1;
        if let Some(e) = over_variant_limit(line.len(), || line_no, record) {
            return Err(e);
        }
        if line[0] != b'{' {
            // Say what it is when it is valid JSON; otherwise report the syntax error.
            return Err(match serde_json::from_slice::<&RawValue>(line) {
                Ok(_) => ParseError::new(
                    line_no,
                    record,
                    format!("expected a JSON object, found {}", kind_of(line)),
                ),
                Err(e) => syntax_error(&e, line_no, record),
            });
        }
        if let Err(e) = serde_json::from_slice::<&RawValue>(line) {
            return Err(syntax_error(&e, line_no, record));
        }
        if let Some(key) = keys.duplicate(line) {
            return Err(duplicate(&key, line_no, record));
        }
        if !emit_record(line, &mut scratch, emit) {
            return Ok(count);
        }
        count += 1;
    }
    Ok(count)
}

/// Emits `raw` as is when it is one line, else without its (insignificant) line breaks.
/// Returns what `emit` said: whether to go on.
fn emit_record(raw: &[u8], scratch: &mut Vec<u8>, emit: &mut dyn FnMut(&[u8]) -> bool) -> bool {
    if memchr::memchr2(b'\n', b'\r', raw).is_none() {
        emit(raw)
    } else {
        minify(raw, scratch);
        emit(scratch)
    }
}

/// Drops whitespace outside strings from valid JSON. Raw control characters cannot occur
/// inside JSON strings, so every line break is outside one.
fn minify(raw: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.reserve(raw.len());
    let mut in_string = false;
    let mut escaped = false;
    for &b in raw {
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else {
            match b {
                b' ' | b'\t' | b'\n' | b'\r' => {}
                b'"' => {
                    in_string = true;
                    out.push(b);
                }
                _ => out.push(b),
            }
        }
    }
}

/// Refuses an object of `content` with a key twice (see `keys`).
fn no_duplicate_key(
    keys: &mut KeyCheck,
    content: &[u8],
    raw: &[u8],
    record: u64,
) -> Result<(), ParseError> {
    match keys.duplicate(raw) {
        None => Ok(()),
        Some(key) => Err(duplicate(
            &key,
            line_at(content, offset_in(content, raw)),
            record,
        )),
    }
}

fn duplicate(key: &str, line: u64, record: u64) -> ParseError {
    ParseError::new(
        line,
        record,
        format!(
            "the object has the key {key:?} more than once, which Snowflake's JSON parser \
             refuses (it would skip the rest of the landed file)"
        ),
    )
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t' | b'\r' | b'\n', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t' | b'\r' | b'\n'] = s {
        s = rest;
    }
    s
}

/// Offset of `part` (a sub-slice of `content`) in `content`.
fn offset_in(content: &[u8], part: &[u8]) -> usize {
    (part.as_ptr() as usize).saturating_sub(content.as_ptr() as usize)
}

fn not_an_object(content: &[u8], raw: &[u8], record: u64, place: &str) -> ParseError {
    ParseError::new(
        line_at(content, offset_in(content, raw)),
        record,
        format!("expected a JSON object{place}, found {}", kind_of(raw)),
    )
}

fn kind_of(raw: &[u8]) -> &'static str {
    match raw.first() {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

/// serde_json's message without its "at line L column C" tail (the line is ours to give).
fn syntax_error(err: &serde_json::Error, line: u64, record: u64) -> ParseError {
    let text = err.to_string();
    let text = match text.rfind(" at line ") {
        Some(i) => &text[..i],
        None => &text,
    };
    let message = if err.column() > 0 {
        format!("invalid JSON: {text} (column {})", err.column())
    } else {
        format!("invalid JSON: {text}")
    };
    ParseError::new(line, record, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minify_keeps_strings_intact() {
        let mut out = Vec::new();
        minify(
            b"{ \"a b\" :\n [1, \"x\\\" \\n y\"],\r\n\t\"c\": null }",
            &mut out,
        );
        assert_eq!(out, b"{\"a b\":[1,\"x\\\" \\n y\"],\"c\":null}");
    }

    #[test]
    fn a_record_over_the_variant_limit_is_refused_before_it_is_read() {
        let mut line = vec![b'x'; super::VARIANT_MAX_BYTES + 1];
        line[0] = b'{';
        let err = super::parse_ndjson(&line, &mut |_| true).unwrap_err();
        assert!(err.message.contains("VARIANT"), "{}", err.message);
        assert!(super::over_variant_limit(super::VARIANT_MAX_BYTES, || 1, 1).is_none());
    }

    #[test]
    fn trim_strips_both_ends() {
        assert_eq!(trim(b" \t{}\r\n"), b"{}");
        assert_eq!(trim(b"  "), b"");
    }
}
