//! The spool: per-stream folders of segment files, written with group commit by one writer
//! thread per stream, from which sealed segments are handed, in order, to one consumer.
//!
//! A leaf: it knows nothing of who consumes what it hands out. In layers:
//! - [`segment`]: the file format (header, checksummed frames) and one segment's writer;
//! - [`recover`]: reading what an earlier run left, cutting torn tails, quarantining
//!   corruption; [`open`] does it for a whole stream folder;
//! - [`next_seq`]: the file that keeps sequence numbers (and so landed keys) from reuse;
//! - [`keys`]: the idempotency-key ledger of keyed appends;
//! - [`writer`]: the writer thread (persist policy in its doc) behind a [`WriterHandle`],
//!   which appends a request as one frame, or a request pushed in parts as one run of frames;
//! - [`output`]: what it hands out: [`Receipt`]s to appenders, [`Handoff`]s to its consumer.

use std::fs;
use std::io;
use std::path::Path;

pub(crate) mod keys;
pub(crate) mod next_seq;
mod output;
pub(crate) mod recover;
pub(crate) mod segment;
mod writer;

pub use output::Receipt;
pub(crate) use output::{AckTx, BatchWatch, Handoff, Sealed};
pub(crate) use writer::{Append, Body, Part, Run, Spawn, WriterHandle};

/// A stream folder as an earlier run left it.
pub(crate) struct Opened {
    /// Segments left to land, in order.
    pub segments: Vec<segment::SegmentInfo>,
    /// The sequence number the next record gets.
    pub next_seq: u64,
    /// The one the `next_seq` file holds (0: none).
    pub saved_next_seq: u64,
}

/// Recovers the stream folder `dir` (of `stream`): removes the spool's own temporary files,
/// and those its consumer names as its own leftovers (`leftover`, by file name), in the same
/// pass; recovers each segment ([`recover::recover`]) and finds the next sequence number.
/// Other files are left alone.
pub(crate) fn open(
    dir: &Path,
    stream: &str,
    leftover: impl Fn(&str) -> bool,
) -> io::Result<Opened> {
    let mut paths = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.ends_with(recover::REWRITE_SUFFIX)
            || name == next_seq::TEMP_FILE_NAME
            || leftover(name)
        {
            match fs::remove_file(&path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        } else if name.ends_with(segment::SUFFIX) {
            paths.push(path);
        }
    }
    paths.sort();
    let saved_next_seq = next_seq::read(dir)?.unwrap_or(0);
    let mut next = saved_next_seq.max(1);
    let mut segments = Vec::new();
    for p in paths {
        if let Some(info) = recover::recover(&p, stream)? {
            next = next.max(info.last_seq() + 1);
            segments.push(info);
        }
    }
    Ok(Opened {
        segments,
        next_seq: next,
        saved_next_seq,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn open_removes_its_temp_files_and_the_named_leftovers_only() {
        let dir = tempfile::tempdir().unwrap();
        for f in [
            "next_seq.tmp",
            "7.seg.rewrite.tmp",
            "1.landing.tmp",
            "notes.txt",
        ] {
            std::fs::write(dir.path().join(f), b"x").unwrap();
        }
        let opened = super::open(dir.path(), "s", |n| n.ends_with(".landing.tmp")).unwrap();
        assert!(opened.segments.is_empty());
        assert_eq!((opened.next_seq, opened.saved_next_seq), (1, 0));
        let left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, ["notes.txt"], "a file it does not know stays");
    }
}
