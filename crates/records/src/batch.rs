//! A request's records, packed once by the front door and stored as one spool frame.
//!
//! Layout (all integers little-endian):
//! `first_seq u64 | received_at_ms i64 | records u64` then entries, each a tag byte and a
//! length-prefixed body: `G len attrs_json` starts a group of records sharing FlowFile
//! attributes; `R len record_json` is one record. The spool writer fills in `first_seq`
//! ([`Batch::stamp`]); [`Payload`] reads a stored batch back entry by entry.
//!
//! A batch also keeps its *expanded* size ([`Batch::expanded_len`]): what it will cost once
//! landed, where every record's line repeats its group's attributes and the line's metadata
//! (envelope `meta`), or is the record alone (envelope `record`, [`Batch::set_envelope`]).
//! A front door sets a limit on it ([`Batch::set_limit`]) so that a small request cannot
//! grow into gigabytes of spool or landed lines ([`Batch::try_push_record`]).

use chrono::{DateTime, Utc};

use crate::landed::Envelope;

const HEADER_LEN: usize = 24;
const TAG_GROUP: u8 = b'G';
const TAG_RECORD: u8 = b'R';

/// Bytes a landed line adds to its record and attributes: the fixed JSON of the line's
/// `meta` with a 20-digit sequence number, plus up to 64 bytes of stream and instance names
/// (the test `line_overhead_covers_the_landed_line` measures it against the line writer).
pub const LINE_OVERHEAD: u64 = 224;

/// Bytes a `record`-envelope line adds to its record: the newline.
const RECORD_LINE_OVERHEAD: u64 = 1;

/// A batch would pass its expanded-size limit ([`Batch::set_limit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the request expands to over {limit} bytes once landed (records, with their FlowFile \
     attributes repeated on every landed line unless the stream's envelope is record); send \
     it in smaller requests"
)]
pub struct TooLarge {
    /// The limit, in bytes.
    pub limit: u64,
}

/// A point in a [`Batch`] to roll back to ([`Batch::checkpoint`]).
#[derive(Debug, Clone, Copy)]
pub struct Checkpoint {
    len: usize,
    records: u64,
    groups: u32,
    group_attrs: u64,
    expanded: u64,
}

/// Records of one request, with the attributes of the FlowFile each came from.
#[derive(Debug, Clone)]
pub struct Batch {
    buf: Vec<u8>,
    records: u64,
    groups: u32,
    /// Length of the current group's attributes JSON (repeated on each of its landed lines).
    group_attrs: u64,
    expanded: u64,
    limit: u64,
    envelope: Envelope,
}

impl Batch {
    /// An empty batch stamped with the time it was received.
    pub fn new(received_at: DateTime<Utc>) -> Self {
        let mut buf = Vec::with_capacity(4096);
        buf.extend_from_slice(&0u64.to_le_bytes());
        buf.extend_from_slice(&received_at.timestamp_millis().to_le_bytes());
        buf.extend_from_slice(&0u64.to_le_bytes());
        Batch {
            buf,
            records: 0,
            groups: 0,
            group_attrs: 2,
            expanded: HEADER_LEN as u64,
            limit: u64::MAX,
            envelope: Envelope::Meta,
        }
    }

    /// The batch of one request received now: its records land in `envelope` and may expand
    /// to at most `max_expanded_bytes` ([`Batch::set_envelope`], [`Batch::set_limit`]). What
    /// both front doors start every request with.
    pub fn for_request(envelope: Envelope, max_expanded_bytes: u64) -> Self {
        let mut batch = Batch::new(Utc::now());
        batch.set_envelope(envelope);
        batch.set_limit(max_expanded_bytes);
        batch
    }

    /// Counts the landed lines in `envelope` (`meta` by default): a `record` line costs its
    /// record and a newline, its FlowFile's attributes nothing. Set it before adding records.
    ///
    /// # Panics
    /// When the batch already holds records (they were counted in the other envelope).
    pub fn set_envelope(&mut self, envelope: Envelope) {
        assert_eq!(self.records, 0, "set the envelope before adding records");
        self.envelope = envelope;
    }

    /// Makes room for about `bytes` more packed bytes at once, within the batch's limit: a
    /// large body then grows the buffer once instead of doubling its way up (copying what is
    /// there at every step and leaving the old buffers to the allocator).
    pub fn reserve(&mut self, bytes: usize) {
        let room = usize::try_from(self.limit.saturating_sub(self.expanded)).unwrap_or(usize::MAX);
        self.buf.reserve(bytes.min(room));
    }

    /// Sets the most bytes the batch may expand to ([`Batch::expanded_len`]); the fallible
    /// pushes refuse what would pass it. No limit by default.
    pub fn set_limit(&mut self, max_expanded_bytes: u64) {
        self.limit = max_expanded_bytes;
    }

    /// What the batch will cost once stored and landed: the packed groups, plus per record
    /// its packed bytes and, envelope `meta`, its group's attributes and [`LINE_OVERHEAD`]
    /// (envelope `record`: a newline).
    pub fn expanded_len(&self) -> u64 {
        self.expanded
    }

    /// What one record of `record_len` bytes adds to [`Batch::expanded_len`] in a group with
    /// `attrs` bytes of attributes JSON.
    fn record_cost(&self, record_len: usize, attrs: u64) -> u64 {
        let line = match self.envelope {
            Envelope::Meta => attrs + LINE_OVERHEAD,
            Envelope::Record => RECORD_LINE_OVERHEAD,
        };
        5 + record_len as u64 + line
    }

    /// Whether one more record of `record_len` bytes in the current group (or in a new group
    /// with `new_group` bytes of attributes JSON) still fits the limit.
    fn fits(&self, record_len: usize, new_group: Option<u64>) -> Result<(), TooLarge> {
        let attrs = new_group.unwrap_or(self.group_attrs);
        let cost = new_group.map_or(0, |g| g + 5) + self.record_cost(record_len, attrs);
        if self.expanded.saturating_add(cost) > self.limit {
            Err(TooLarge { limit: self.limit })
        } else {
            Ok(())
        }
    }

    /// Starts a group and adds its first record, or adds nothing when that would pass the
    /// limit. The batch is unchanged on error.
    pub fn try_begin_group_with<K: AsRef<str>, V: AsRef<str>>(
        &mut self,
        attributes: &[(K, V)],
        first_record: &[u8],
    ) -> Result<(), TooLarge> {
        let json = attributes_json(attributes);
        self.fits(first_record.len(), Some(json.len() as u64))?;
        self.push_group_json(&json);
        self.push_record(first_record);
        Ok(())
    }

    /// Adds one record to the current group, or nothing when that would pass the limit.
    pub fn try_push_record(&mut self, json: &[u8]) -> Result<(), TooLarge> {
        let new_group = (self.groups == 0).then_some(2);
        self.fits(json.len(), new_group)?;
        self.push_record(json);
        Ok(())
    }

    /// Starts a group: the records pushed after this carry these attributes.
    pub fn begin_group<K: AsRef<str>, V: AsRef<str>>(&mut self, attributes: &[(K, V)]) {
        self.push_group_json(&attributes_json(attributes));
    }

    fn push_group_json(&mut self, json: &[u8]) {
        self.push_entry(TAG_GROUP, json);
        self.groups += 1;
        self.group_attrs = json.len() as u64;
        self.expanded += 5 + json.len() as u64;
    }

    /// Adds one record: a single-line JSON object (as produced by the record parser).
    pub fn push_record(&mut self, json: &[u8]) {
        if self.groups == 0 {
            self.begin_group::<&str, &str>(&[]);
        }
        self.push_entry(TAG_RECORD, json);
        self.records += 1;
        self.expanded += self.record_cost(json.len(), self.group_attrs);
        self.buf[16..24].copy_from_slice(&self.records.to_le_bytes());
    }

    fn push_entry(&mut self, tag: u8, body: &[u8]) {
        self.buf.push(tag);
        self.buf.extend_from_slice(
            &u32::try_from(body.len())
                .expect("entry under 4 GiB")
                .to_le_bytes(),
        );
        self.buf.extend_from_slice(body);
    }

    /// Where the batch is now, to [`Batch::rollback`] to: what a caller keeps before adding
    /// something it may have to take back (a FlowFile that turns out not to parse).
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            len: self.buf.len(),
            records: self.records,
            groups: self.groups,
            group_attrs: self.group_attrs,
            expanded: self.expanded,
        }
    }

    /// Takes back everything added since `at` was taken from this batch.
    pub fn rollback(&mut self, at: Checkpoint) {
        self.buf.truncate(at.len);
        self.records = at.records;
        self.groups = at.groups;
        self.group_attrs = at.group_attrs;
        self.expanded = at.expanded;
        self.buf[16..24].copy_from_slice(&self.records.to_le_bytes());
    }

    /// Takes the records added so far as a batch of their own (a *part* of a request too
    /// large to hold whole) and leaves this one empty: same received time and envelope, its
    /// limit what the part taken left of it, so the parts of a request together stay within
    /// the request's limit. The next record starts a new group (as [`crate::fill_batch`]
    /// does for every call); one pushed without one gets an empty group.
    pub fn take_part(&mut self) -> Batch {
        let mut buf = Vec::with_capacity(self.buf.capacity().min(4096));
        buf.extend_from_slice(&self.buf[..HEADER_LEN]);
        buf[16..24].copy_from_slice(&0u64.to_le_bytes());
        let rest = Batch {
            buf,
            records: 0,
            groups: 0,
            group_attrs: 2,
            expanded: HEADER_LEN as u64,
            limit: self.limit.saturating_sub(self.expanded - HEADER_LEN as u64),
            envelope: self.envelope,
        };
        std::mem::replace(self, rest)
    }

    /// Number of records.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Size of the packed batch in bytes (what it costs in the spool).
    pub fn packed_len(&self) -> usize {
        self.buf.len()
    }

    /// Bytes allocated for the packed batch (at least [`Batch::packed_len`]): what holding it
    /// in memory costs.
    pub fn allocated_len(&self) -> usize {
        self.buf.capacity()
    }

    /// The packed bytes, sequence not yet assigned.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// Sets the first sequence number of packed bytes (done by the spool writer).
    ///
    /// # Panics
    /// When `buf` is shorter than a batch header (it did not come from [`Batch::into_bytes`]).
    pub fn stamp(mut buf: Vec<u8>, first_seq: u64) -> Vec<u8> {
        buf[0..8].copy_from_slice(&first_seq.to_le_bytes());
        buf
    }

    /// The packed bytes with the first sequence number set: what the spool stores.
    pub fn into_payload(self, first_seq: u64) -> Vec<u8> {
        Self::stamp(self.buf, first_seq)
    }
}

/// Attributes as the JSON object of strings a group stores: keys in byte order, the last
/// value of a repeated key kept (what serializing them as a `serde_json::Map` writes), but
/// written straight into one buffer, without a map of owned strings per request.
fn attributes_json<K: AsRef<str>, V: AsRef<str>>(attributes: &[(K, V)]) -> Vec<u8> {
    let key = |i: usize| attributes[i].0.as_ref();
    let mut order: Vec<usize> = (0..attributes.len()).collect();
    // Equal keys: the later one first, so that dedup keeps it.
    order.sort_unstable_by(|&a, &b| key(a).cmp(key(b)).then(b.cmp(&a)));
    order.dedup_by(|a, b| key(*a) == key(*b));
    let text: usize = (order.iter())
        .map(|&i| key(i).len() + attributes[i].1.as_ref().len() + 6)
        .sum();
    let mut out = Vec::with_capacity(text + 2);
    out.push(b'{');
    for (n, &i) in order.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        json_string(&mut out, key(i));
        out.push(b':');
        json_string(&mut out, attributes[i].1.as_ref());
    }
    out.push(b'}');
    out
}

fn json_string(out: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(out, s).expect("a string always serializes into a Vec");
}

/// A read-only view of a stored batch payload.
#[derive(Debug, Clone, Copy)]
pub struct Payload<'a> {
    /// Sequence number of the first record.
    pub first_seq: u64,
    /// When the batch was received, in milliseconds since the Unix epoch.
    pub received_at_ms: i64,
    /// Number of records.
    pub records: u64,
    body: &'a [u8],
}

/// One item while walking a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry<'a> {
    /// The start of a group: its attributes as a JSON object of strings.
    Group(&'a [u8]),
    /// One record: a single-line JSON object.
    Record(&'a [u8]),
}

impl<'a> Payload<'a> {
    /// Reads the header of a stored payload; `None` when it is too short to have one.
    pub fn parse(bytes: &'a [u8]) -> Option<Payload<'a>> {
        if bytes.len() < HEADER_LEN {
            return None;
        }
        let u = |r: std::ops::Range<usize>| u64::from_le_bytes(bytes[r].try_into().unwrap());
        Some(Payload {
            first_seq: u(0..8),
            received_at_ms: u(8..16) as i64,
            records: u(16..24),
            body: &bytes[HEADER_LEN..],
        })
    }

    /// Walks the entries; `None` from the iterator's item means the payload is malformed.
    pub fn entries(&self) -> impl Iterator<Item = Option<Entry<'a>>> + 'a {
        let mut rest = self.body;
        std::iter::from_fn(move || {
            if rest.is_empty() {
                return None;
            }
            if rest.len() < 5 {
                rest = &[];
                return Some(None);
            }
            let tag = rest[0];
            let len = u32::from_le_bytes(rest[1..5].try_into().unwrap()) as usize;
            if rest.len() < 5 + len {
                rest = &[];
                return Some(None);
            }
            let body = &rest[5..5 + len];
            rest = &rest[5 + len..];
            Some(match tag {
                TAG_GROUP => Some(Entry::Group(body)),
                TAG_RECORD => Some(Entry::Record(body)),
                _ => None,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_round_trips_through_payload() {
        let at = DateTime::from_timestamp_millis(1_700_000_000_123).unwrap();
        let mut b = Batch::new(at);
        b.begin_group(&[("filename", "a.json"), ("uuid", "u-1")]);
        b.push_record(br#"{"id":1}"#);
        b.push_record(br#"{"id":2}"#);
        b.begin_group(&[("filename", "b.json")]);
        b.push_record(br#"{"id":3}"#);
        assert_eq!(b.records(), 3);
        let bytes = b.into_payload(41);
        let p = Payload::parse(&bytes).unwrap();
        assert_eq!(
            (p.first_seq, p.received_at_ms, p.records),
            (41, 1_700_000_000_123, 3)
        );
        let mut seen = Vec::new();
        for e in p.entries() {
            match e.unwrap() {
                Entry::Group(g) => seen.push(format!("G{}", String::from_utf8_lossy(g))),
                Entry::Record(r) => seen.push(format!("R{}", String::from_utf8_lossy(r))),
            }
        }
        assert_eq!(
            seen,
            [
                r#"G{"filename":"a.json","uuid":"u-1"}"#,
                r#"R{"id":1}"#,
                r#"R{"id":2}"#,
                r#"G{"filename":"b.json"}"#,
                r#"R{"id":3}"#
            ]
        );
    }

    #[test]
    fn parts_keep_the_received_time_and_share_the_limit() {
        let at = DateTime::from_timestamp_millis(1_700_000_000_123).unwrap();
        let mut b = Batch::new(at);
        b.set_envelope(Envelope::Record);
        // Envelope record: a group costs 5 + 2 (`{}`), a record `{}` 5 + 2 + 1.
        b.set_limit(HEADER_LEN as u64 + 40);
        b.try_push_record(b"{}").unwrap();
        b.try_push_record(b"{}").unwrap();
        let first = b.take_part();
        assert_eq!((first.records(), b.records()), (2, 0));
        // 23 of the 40 bytes were taken: a new group and one record (15) fit, not a second.
        b.try_push_record(b"{}").unwrap();
        assert_eq!(b.try_push_record(b"{}"), Err(TooLarge { limit: 41 }));
        for (part, records) in [(first, 2), (b, 1)] {
            let bytes = part.into_payload(9);
            let p = Payload::parse(&bytes).unwrap();
            assert_eq!((p.received_at_ms, p.records), (1_700_000_000_123, records));
            assert_eq!(p.entries().count() as u64, records + 1, "one group each");
        }
    }

    #[test]
    fn records_without_group_get_an_empty_one() {
        let mut b = Batch::new(Utc::now());
        b.push_record(b"{}");
        let bytes = b.into_payload(1);
        let p = Payload::parse(&bytes).unwrap();
        let first = p.entries().next().unwrap().unwrap();
        assert!(matches!(first, Entry::Group(g) if g == b"{}"));
    }

    #[test]
    fn line_overhead_covers_the_landed_line() {
        // 64 bytes of stream and instance names, the largest sequence number.
        let mut w = crate::landed::LineWriter::new(&"s".repeat(32), &"i".repeat(32));
        let at = crate::landed::format_time(1_700_000_000_123);
        let line = w.line(b"{}", u64::MAX, &at, b"{}").len() as u64;
        assert!(line - 4 <= LINE_OVERHEAD, "{line}");
        assert!(line + 32 > LINE_OVERHEAD, "not wildly over: {line}");
    }

    #[test]
    fn expanded_size_counts_attributes_on_every_record() {
        let attrs = [("a", "x".repeat(1000))];
        let mut b = Batch::new(Utc::now());
        b.set_limit(10 * (1000 + LINE_OVERHEAD));
        b.try_begin_group_with(&attrs, b"{}").unwrap();
        let mut n = 1;
        let err = loop {
            match b.try_push_record(b"{}") {
                Ok(()) => n += 1,
                Err(e) => break e,
            }
            assert!(n < 100, "the limit stops it");
        };
        assert_eq!(err.limit, 10 * (1000 + LINE_OVERHEAD));
        assert!((8..10).contains(&n), "{n}");
        assert_eq!(b.records(), n);
        assert!(b.expanded_len() <= 10 * (1000 + LINE_OVERHEAD));
        // Unlimited pushes count the same way.
        let mut u = Batch::new(Utc::now());
        u.begin_group(&attrs);
        for _ in 0..n {
            u.push_record(b"{}");
        }
        assert_eq!(u.expanded_len(), b.expanded_len());
    }

    #[test]
    fn record_envelope_counts_no_attributes() {
        let attrs = [("a", "x".repeat(1000))];
        let record = br#"{"id":1}"#;
        let limit = 10 * (1000 + LINE_OVERHEAD);
        let fill = |envelope| {
            let mut b = Batch::new(Utc::now());
            b.set_envelope(envelope);
            b.set_limit(limit);
            b.try_begin_group_with(&attrs, record).unwrap();
            let mut n = 1u64;
            while b.try_push_record(record).is_ok() {
                n += 1;
                assert!(n < 100_000, "the limit stops it");
            }
            (n, b.expanded_len(), b.packed_len() as u64)
        };
        let (meta, _, _) = fill(Envelope::Meta);
        assert!((8..10).contains(&meta), "{meta}");
        let (n, expanded, packed) = fill(Envelope::Record);
        // The group's attributes once, then each record its packed bytes and a newline.
        let per_record = 5 + record.len() as u64 + 1;
        assert_eq!(expanded, packed + n);
        assert!(
            expanded <= limit && expanded + per_record > limit,
            "{expanded}"
        );
        assert!(n > 50 * meta, "{n} vs {meta}");
    }

    #[test]
    #[should_panic(expected = "before adding records")]
    fn envelope_is_set_before_records() {
        let mut b = Batch::new(Utc::now());
        b.push_record(b"{}");
        b.set_envelope(Envelope::Record);
    }

    #[test]
    fn truncated_payload_is_reported_malformed() {
        let mut b = Batch::new(Utc::now());
        b.push_record(br#"{"a":1}"#);
        let bytes = b.into_payload(1);
        let cut = &bytes[..bytes.len() - 2];
        let p = Payload::parse(cut).unwrap();
        assert!(p.entries().any(|e| e.is_none()));
    }

    #[test]
    fn attributes_json_writes_what_a_json_map_writes() {
        let attrs = [
            ("uuid", "u-1"),
            ("filename", "a \"quoted\"\n\u{1} Zürich \\ /"),
            ("a.b", "x"),
            ("uuid", "u-2"),
            ("", "empty key"),
            ("Z", "upper"),
        ];
        let mut map = serde_json::Map::new();
        for (k, v) in attrs {
            map.insert(k.to_owned(), serde_json::Value::String(v.to_owned()));
        }
        assert_eq!(
            String::from_utf8(attributes_json(&attrs)).unwrap(),
            serde_json::to_string(&map).unwrap()
        );
        assert_eq!(attributes_json::<&str, &str>(&[]), b"{}");
    }
}
