//! Duplicate object keys, which Snowflake's JSON parser refuses: with the file format's
//! `ALLOW_DUPLICATE = FALSE` (the default, "CREATE FILE FORMAT", TYPE = JSON) a record such
//! as `{"id":1,"id":2}` is a parse error, and with `ON_ERROR = CONTINUE` a JSON file loads
//! the rows before it and skips the rest ("COPY INTO <table>", ON_ERROR: "for JSON … the
//! remainder of the records in the data file are skipped"). So such a record never reaches a
//! landed file: it is refused at ingest like any record that does not parse.

use std::borrow::Cow;

/// Above this many keys an object is checked by sorting its keys when it closes, not key
/// by key as they come.
const LINEAR_KEYS: usize = 32;

/// The first key that appears twice in one object of `raw`, a valid JSON value, decoded;
/// `None` when every object's keys are distinct. Keys compare as the strings they denote
/// (`"a"` and `"\u0061"` are the same key).
pub fn duplicate_key(raw: &[u8]) -> Option<String> {
    // One entry per open container: `Some(keys)` for an object, `None` for an array.
    let mut open: Vec<Option<Vec<Cow<'_, [u8]>>>> = Vec::new();
    let mut expect_key = false;
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'"' => {
                let end = string_end(raw, i);
                if expect_key && let Some(Some(keys)) = open.last_mut() {
                    let key = decoded(&raw[i..=end]);
                    if keys.len() < LINEAR_KEYS && keys.contains(&key) {
                        return Some(text(&key));
                    }
                    keys.push(key);
                    expect_key = false;
                }
                i = end + 1;
                continue;
            }
            b'{' => {
                open.push(Some(Vec::new()));
                expect_key = true;
            }
            b'[' => {
                open.push(None);
                expect_key = false;
            }
            b'}' | b']' => {
                if let Some(Some(mut keys)) = open.pop()
                    && keys.len() >= LINEAR_KEYS
                {
                    keys.sort_unstable();
                    if let Some(pair) = keys.windows(2).find(|w| w[0] == w[1]) {
                        return Some(text(&pair[0]));
                    }
                }
                expect_key = false;
            }
            b',' => expect_key = matches!(open.last(), Some(Some(_))),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Index of the quote that closes the string opening at `start`.
fn string_end(raw: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < raw.len() {
        match raw[i] {
            b'\\' => i += 2,
            b'"' => return i,
            _ => i += 1,
        }
    }
    raw.len().saturating_sub(1)
}

/// The key's bytes as the string it denotes: borrowed when it has no escape.
fn decoded(quoted: &[u8]) -> Cow<'_, [u8]> {
    let inner = &quoted[1..quoted.len().saturating_sub(1).max(1)];
    if !inner.contains(&b'\\') {
        return Cow::Borrowed(inner);
    }
    match serde_json::from_slice::<String>(quoted) {
        Ok(s) => Cow::Owned(s.into_bytes()),
        Err(_) => Cow::Borrowed(inner),
    }
}

fn text(key: &[u8]) -> String {
    String::from_utf8_lossy(key).into_owned()
}

#[cfg(test)]
mod tests {
    use super::duplicate_key;

    #[test]
    fn duplicates_are_found_at_any_depth_and_only_within_one_object() {
        assert_eq!(duplicate_key(br#"{"id":1,"id":2}"#).as_deref(), Some("id"));
        assert_eq!(
            duplicate_key(br#"{"a":{"x":1,"y":{"z":1},"x":2}}"#).as_deref(),
            Some("x")
        );
        assert_eq!(
            duplicate_key(br#"{"a":[{"k":1},{"k":2,"k":3}]}"#).as_deref(),
            Some("k")
        );
        // The same key in sibling objects, and as a value, is fine.
        assert_eq!(
            duplicate_key(br#"{"a":{"k":1},"b":{"k":"k"},"k":"a"}"#),
            None
        );
        assert_eq!(duplicate_key(br#"{"s":"a\",\"a","a":1}"#), None);
        // Escapes denote the same key.
        assert_eq!(
            duplicate_key(br#"{"a":1,"\u0061":2}"#).as_deref(),
            Some("a")
        );
        assert_eq!(duplicate_key(br#"{"a\\":1,"a":2}"#), None);
    }

    #[test]
    fn large_objects_are_checked_too() {
        let mut obj: String = (0..100).map(|i| format!("\"k{i}\":{i},")).collect();
        obj.push_str("\"k42\":0");
        assert_eq!(
            duplicate_key(format!("{{{obj}}}").as_bytes()).as_deref(),
            Some("k42")
        );
        let distinct: Vec<String> = (0..100).map(|i| format!("\"k{i}\":{i}")).collect();
        assert_eq!(
            duplicate_key(format!("{{{}}}", distinct.join(",")).as_bytes()),
            None
        );
    }
}
