//! The durable per-stream notification queue: landed keys waiting for a successful
//! `insertFiles`.
//!
//! An append-only text file of `+key` (landed, to notify) and `-key` (Snowpipe answered 200)
//! lines, each append fsync'd. Opening replays it and rewrites it with only the pending keys
//! (a torn last line from a crash is dropped: its key was not yet acknowledged as queued, and
//! the lander re-lands and re-queues such a file on restart). Once nothing is pending the file
//! is truncated, so it stays small.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Truncate the file when nothing is pending and it has grown past this.
const COMPACT_AT: u64 = 1 << 20;

struct State {
    file: File,
    /// Pending keys in landing order.
    pending: Vec<String>,
    set: HashSet<String>,
    len: u64,
}

/// The queue file of one stream.
pub struct NotifyQueue {
    path: PathBuf,
    state: Mutex<State>,
}

impl NotifyQueue {
    /// Opens (creating if missing) the queue at `path`, keeping what an earlier run left.
    pub fn open(path: &Path) -> io::Result<NotifyQueue> {
        let text = match fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        let mut pending: Vec<String> = Vec::new();
        let mut set = HashSet::new();
        let complete = match text.iter().rposition(|&b| b == b'\n') {
            Some(i) => &text[..=i],
            None => &[][..],
        };
        for line in String::from_utf8_lossy(complete).lines() {
            if let Some(key) = line.strip_prefix('+') {
                if set.insert(key.to_owned()) {
                    pending.push(key.to_owned());
                }
            } else if let Some(key) = line.strip_prefix('-')
                && set.remove(key)
            {
                pending.retain(|k| k != key);
            }
        }
        let mut body = String::new();
        for k in &pending {
            body.push('+');
            body.push_str(k);
            body.push('\n');
        }
        let tmp = path.with_extension("tmp");
        {
            let mut f = File::create(&tmp)?;
            f.write_all(body.as_bytes())?;
            f.sync_all()?;
        }
        fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent() {
            File::open(dir)?.sync_all()?;
        }
        let file = OpenOptions::new().append(true).open(path)?;
        Ok(NotifyQueue {
            path: path.to_path_buf(),
            state: Mutex::new(State {
                file,
                pending,
                set,
                len: body.len() as u64,
            }),
        })
    }

    /// The queue file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Durably records that `key` landed and must be notified. Returns once fsync'd. On error
    /// nothing of the key stays in the file.
    pub fn push(&self, key: &str) -> io::Result<()> {
        if key.contains('\n') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("landed key {key:?} contains a newline"),
            ));
        }
        let mut st = self.state.lock().expect("lock");
        self.append(&mut st, &format!("+{key}\n"))?;
        if st.set.insert(key.to_owned()) {
            st.pending.push(key.to_owned());
        }
        Ok(())
    }

    /// Up to `max` pending keys, oldest first.
    pub fn peek(&self, max: usize) -> Vec<String> {
        let st = self.state.lock().expect("lock");
        st.pending.iter().take(max).cloned().collect()
    }

    /// Number of keys waiting for a successful `insertFiles`.
    pub fn len(&self) -> usize {
        self.state.lock().expect("lock").pending.len()
    }

    /// Whether no key waits for a successful `insertFiles`.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends whole lines and fsyncs them. On error the file is cut back to its last whole
    /// line: a torn line (disk full, I/O error) left in place would glue the next key to it,
    /// and that key would be lost on replay.
    fn append(&self, st: &mut State, lines: &str) -> io::Result<()> {
        let written = (|| {
            // As a full or failing disk does: half the line is written, then the write fails.
            fail::fail_point!("notify-queue-append", |arg| {
                st.file.write_all(&lines.as_bytes()[..lines.len() / 2])?;
                Err(crate::error::injected_io_error(arg))
            });
            st.file.write_all(lines.as_bytes())?;
            st.file.sync_data()
        })();
        if let Err(e) = written {
            if let Err(cut) = st.file.set_len(st.len) {
                tracing::error!(queue = %self.path.display(), error = %cut,
                    "could not cut a torn line off the Snowpipe queue; keys may be lost on restart");
            }
            return Err(e);
        }
        st.len += lines.len() as u64;
        Ok(())
    }

    /// Durably removes `keys` (Snowpipe accepted them). On error the call can be repeated:
    /// a removal that was not recorded leaves the keys pending, and removing a key twice is
    /// harmless.
    pub fn ack(&self, keys: &[String]) -> io::Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        // As a full or failing disk does: the removal is not recorded, the keys stay pending.
        fail::fail_point!("notify-queue-remove", |arg| Err(
            crate::error::injected_io_error(arg)
        ));
        let mut st = self.state.lock().expect("lock");
        let mut body = String::new();
        for k in keys {
            body.push('-');
            body.push_str(k);
            body.push('\n');
        }
        self.append(&mut st, &body)?;
        let done: HashSet<&String> = keys.iter().collect();
        let State { pending, set, .. } = &mut *st;
        pending.retain(|k| !done.contains(k));
        for k in keys {
            set.remove(k);
        }
        if st.pending.is_empty() && st.len > COMPACT_AT {
            st.file.set_len(0)?;
            st.file.sync_data()?;
            st.len = 0;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survives_reopen_and_drops_acked_and_torn_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q");
        let q = NotifyQueue::open(&path).unwrap();
        for k in ["a/1", "a/2", "a/3", "a/2"] {
            q.push(k).unwrap();
        }
        assert_eq!(q.peek(10), ["a/1", "a/2", "a/3"]);
        q.ack(&["a/1".to_owned()]).unwrap();
        drop(q);
        // A crash in the middle of an append leaves a line without its newline.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"+a/4").unwrap();
        drop(f);
        let q = NotifyQueue::open(&path).unwrap();
        assert_eq!(q.peek(10), ["a/2", "a/3"]);
        assert_eq!(q.peek(1), ["a/2"]);
        q.ack(&q.peek(10)).unwrap();
        assert!(q.is_empty());
        q.push("a/5").unwrap();
        drop(q);
        let q = NotifyQueue::open(&path).unwrap();
        assert_eq!(q.peek(10), ["a/5"]);
        assert_eq!(fs::read_to_string(&path).unwrap(), "+a/5\n");
        assert!(q.push("bad\nkey").is_err());
    }
}
