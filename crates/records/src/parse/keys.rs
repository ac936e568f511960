//! Duplicate object keys, which Snowflake's JSON parser refuses: with the file format's
//! `ALLOW_DUPLICATE = FALSE` (the default, "CREATE FILE FORMAT", TYPE = JSON) a record such
//! as `{"id":1,"id":2}` is a parse error, and with `ON_ERROR = CONTINUE` a JSON file loads
//! the rows before it and skips the rest ("COPY INTO <table>", ON_ERROR: "for JSON … the
//! remainder of the records in the data file are skipped"). So such a record never reaches a
//! landed file: it is refused at ingest like any record that does not parse.
//!
//! The check runs on every record, so it is one pass over the bytes with no allocation per
//! record ([`KeyCheck`] keeps its buffers): keys are compared as byte ranges of the record,
//! and only a record with an escape in it has its keys decoded.

use std::borrow::Cow;

/// Above this many keys an object is checked by sorting its keys when it closes, not key
/// by key as they come.
const LINEAR_KEYS: usize = 32;

/// The first key that appears twice in one object of `raw`, a valid JSON value, decoded;
/// `None` when every object's keys are distinct. Keys compare as the strings they denote
/// (`"a"` and `"\u0061"` are the same key).
pub fn duplicate_key(raw: &[u8]) -> Option<String> {
    KeyCheck::default().duplicate(raw)
}

/// Buffers for [`duplicate_key`], kept from one record to the next.
#[derive(Default)]
pub(crate) struct KeyCheck {
    /// Keys of the open objects, as (start, end) byte ranges inside the quotes.
    keys: Vec<(usize, usize)>,
    /// Per open container: for an object, where its keys start in `keys` and a 64-bit
    /// filter of the keys seen (a key whose bit is unset cannot be a repeat, so most keys are
    /// never compared); `None`: an array.
    open: Vec<Option<(usize, u64)>>,
}

impl KeyCheck {
    /// See [`duplicate_key`].
    pub(crate) fn duplicate(&mut self, raw: &[u8]) -> Option<String> {
        self.keys.clear();
        self.open.clear();
        let key = |r: (usize, usize)| &raw[r.0..r.1];
        let mut expect_key = false;
        let mut i = 0;
        while i < raw.len() {
            match raw[i] {
                b'"' => {
                    let (end, escaped) = quoted_end(raw, i);
                    if expect_key && escaped {
                        // A key with an escape (rare): compare decoded keys instead.
                        return decoded_duplicate(raw);
                    }
                    if expect_key && let Some(Some((first, seen))) = self.open.last_mut() {
                        let this = (i + 1, end);
                        let bit = filter_bit(key(this));
                        let same = &self.keys[*first..];
                        if *seen & bit != 0
                            && same.len() < LINEAR_KEYS
                            && same.iter().any(|&k| key(k) == key(this))
                        {
                            return Some(String::from_utf8_lossy(key(this)).into_owned());
                        }
                        *seen |= bit;
                        self.keys.push(this);
                        expect_key = false;
                    }
                    i = end + 1;
                    continue;
                }
                b'{' => {
                    self.open.push(Some((self.keys.len(), 0)));
                    expect_key = true;
                }
                b'[' => {
                    self.open.push(None);
                    expect_key = false;
                }
                b'}' | b']' => {
                    if let Some(Some((first, _))) = self.open.pop() {
                        if self.keys.len() - first >= LINEAR_KEYS {
                            let mut these: Vec<&[u8]> =
                                self.keys[first..].iter().map(|&k| key(k)).collect();
                            these.sort_unstable();
                            if let Some(w) = these.windows(2).find(|w| w[0] == w[1]) {
                                return Some(String::from_utf8_lossy(w[0]).into_owned());
                            }
                        }
                        self.keys.truncate(first);
                    }
                    expect_key = false;
                }
                b',' => expect_key = matches!(self.open.last(), Some(Some(_))),
                _ => {}
            }
            i += 1;
        }
        None
    }
}

/// The key's bit in an object's 64-bit filter: from its length and its first and last bytes.
fn filter_bit(key: &[u8]) -> u64 {
    let (first, last) = (key.first().copied(), key.last().copied());
    let h =
        key.len() as u64 * 31 + u64::from(first.unwrap_or(0)) * 7 + u64::from(last.unwrap_or(0));
    1 << (h % 64)
}

/// Index of the quote that closes the string opening at `start`, and whether the string has
/// an escape.
fn quoted_end(raw: &[u8], start: usize) -> (usize, bool) {
    let mut i = start + 1;
    let mut escaped = false;
    while let Some(n) = memchr::memchr2(b'"', b'\\', &raw[i.min(raw.len())..]) {
        let at = i + n;
        if raw[at] == b'"' {
            return (at, escaped);
        }
        escaped = true;
        i = at + 2;
    }
    (raw.len(), escaped)
}

/// The slow path, for a record with an escaped key: every key decoded.
fn decoded_duplicate(raw: &[u8]) -> Option<String> {
    let mut open: Vec<Option<Vec<Cow<'_, [u8]>>>> = Vec::new();
    let mut expect_key = false;
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'"' => {
                let end = string_end(raw, i);
                if expect_key && let Some(Some(keys)) = open.last_mut() {
                    let key = decoded(&raw[i..=end]);
                    if keys.contains(&key) {
                        return Some(String::from_utf8_lossy(&key).into_owned());
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
                open.pop();
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
        // A nested object's keys are its own, before and after it.
        let nested = format!("{{\"k1\":{{{}}},\"k2\":1}}", distinct.join(","));
        assert_eq!(duplicate_key(nested.as_bytes()), None);
    }
}
