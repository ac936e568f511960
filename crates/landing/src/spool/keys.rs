//! The idempotency-key ledger of a stream: `{stream folder}/keys.log`, one line per batch
//! appended with a key ([`Landing::append_once`](crate::Landing::append_once)):
//! `first_seq records appended_at_ms key`.
//!
//! A line is written and fsync'd *before* its frame is written to the segment, so whenever
//! the frame can be durable (the kernel may write it back before our fsync) its line already
//! is. A line whose records never became durable (a crash tore the frame, a failed fsync
//! rolled it back) would wrongly say "already appended"; such lines are cut: on rollback the
//! writer truncates the ledger to its length at the last good segment sync, and on start
//! [`KeyLedger::load`] keeps only lines whose records are below the recovered next sequence
//! number (those records are in a recovered segment or already landed). Lines stay after
//! their batch lands, so a key that already landed is still known; they expire after
//! [`KEY_TTL`] (a retried CompleteMultipartUpload comes within seconds; its upload expires
//! long before that).

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::segment::sync_dir;

/// File name of the ledger in a stream's spool folder.
pub(crate) const FILE_NAME: &str = "keys.log";
/// How long a key is remembered.
pub(crate) const KEY_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// Where a key's batch went: its first sequence number and record count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeyedBatch {
    pub first_seq: u64,
    pub records: u64,
}

/// The open ledger and the keys it holds.
pub(crate) struct KeyLedger {
    path: PathBuf,
    file: File,
    keys: HashMap<String, (KeyedBatch, i64)>,
    /// Bytes in the file.
    len: u64,
}

/// Whether `key` can be stored in a ledger line.
pub(crate) fn valid_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= 1024 && !key.bytes().any(|b| b.is_ascii_whitespace())
}

fn parse_line(line: &str) -> Option<(String, KeyedBatch, i64)> {
    let mut it = line.splitn(4, ' ');
    let first_seq = it.next()?.parse().ok()?;
    let records = it.next()?.parse().ok()?;
    let at_ms = it.next()?.parse().ok()?;
    let key = it.next()?;
    valid_key(key).then(|| (key.to_owned(), KeyedBatch { first_seq, records }, at_ms))
}

fn line(key: &str, b: KeyedBatch, at_ms: i64) -> String {
    format!("{} {} {at_ms} {key}\n", b.first_seq, b.records)
}

impl KeyLedger {
    /// Reads the ledger in `dir` (if any), keeps the lines whose records are durable (below
    /// `next_seq`) and not expired, and rewrites it with only those, durably.
    pub fn load(dir: &Path, next_seq: u64, now_ms: i64) -> io::Result<KeyLedger> {
        let path = dir.join(FILE_NAME);
        let text = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        let ttl_ms = KEY_TTL.as_millis() as i64;
        let mut keys = HashMap::new();
        let mut kept = String::new();
        // A torn last line has no newline: it is dropped with the rest that does not parse.
        for l in text.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let Some((key, b, at)) = std::str::from_utf8(l).ok().and_then(parse_line) else {
                continue;
            };
            let durable = b.first_seq.saturating_add(b.records) <= next_seq;
            if durable && now_ms.saturating_sub(at) <= ttl_ms {
                kept.push_str(&line(&key, b, at));
                keys.insert(key, (b, at));
            }
        }
        if kept.len() != text.len() {
            let tmp = dir.join(format!("{FILE_NAME}.tmp"));
            let mut f = File::create(&tmp)?;
            f.write_all(kept.as_bytes())?;
            f.sync_all()?;
            fs::rename(&tmp, &path)?;
            sync_dir(dir)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        Ok(KeyLedger {
            path,
            file,
            keys,
            len: kept.len() as u64,
        })
    }

    /// The batch appended under `key`, if any.
    pub fn get(&self, key: &str) -> Option<KeyedBatch> {
        self.keys.get(key).map(|(b, _)| *b)
    }

    /// Bytes in the ledger (a point to [`KeyLedger::truncate`] back to).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Records `key` for `b` durably (before the batch's frame is written).
    pub fn record(&mut self, key: &str, b: KeyedBatch, now_ms: i64) -> io::Result<()> {
        let l = line(key, b, now_ms);
        let written = self
            .write(l.as_bytes())
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            self.truncate(self.len)?;
            return Err(e);
        }
        self.len += l.len() as u64;
        self.keys.insert(key.to_owned(), (b, now_ms));
        Ok(())
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        fail::fail_point!("spool-keys-record", |arg| Err(
            crate::error::injected_io_error(arg)
        ));
        self.file.write_all(bytes)
    }

    /// Cuts the lines written after `len` (their batches were not kept) and forgets their
    /// keys, durably.
    pub fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.file.set_len(len)?;
        self.file.sync_data()?;
        self.len = len;
        let text = fs::read(&self.path)?;
        let present: std::collections::HashSet<String> = text
            .split(|b| *b == b'\n')
            .filter_map(|l| std::str::from_utf8(l).ok().and_then(parse_line))
            .map(|(k, _, _)| k)
            .collect();
        self.keys.retain(|k, _| present.contains(k));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_keeps_durable_lines_and_cuts_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = KeyLedger::load(dir.path(), 1, 1_000).unwrap();
        let a = KeyedBatch {
            first_seq: 1,
            records: 3,
        };
        let b = KeyedBatch {
            first_seq: 4,
            records: 2,
        };
        l.record("a", a, 1_000).unwrap();
        let mark = l.len();
        l.record("b", b, 1_000).unwrap();
        assert_eq!(l.get("b"), Some(b));
        l.truncate(mark).unwrap();
        assert_eq!(l.get("b"), None);
        l.record("b", b, 1_000).unwrap();
        drop(l);
        // A torn line at the end.
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.path().join(FILE_NAME))
            .unwrap();
        f.write_all(b"6 1 1000 c").unwrap();
        // Only records 1..=3 became durable: b's line is cut, so is the torn one.
        let l = KeyLedger::load(dir.path(), 4, 2_000).unwrap();
        assert_eq!(l.get("a"), Some(a));
        assert_eq!(l.get("b"), None);
        assert_eq!(l.get("c"), None);
        let text = fs::read_to_string(dir.path().join(FILE_NAME)).unwrap();
        assert_eq!(text, "1 3 1000 a\n");
        // Expired.
        let l = KeyLedger::load(dir.path(), 4, 1_000 + KEY_TTL.as_millis() as i64 + 1).unwrap();
        assert_eq!(l.get("a"), None);
    }
}
