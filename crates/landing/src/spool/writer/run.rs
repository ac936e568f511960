//! Writing one request that was pushed in parts ([`crate::PartsAppend`]) as one run of frames
//! in the open segment: its parts read back one at a time from their temporary file into one
//! buffer (so the writer holds one part, never the request), each stamped with its first
//! sequence number, then its last batch, every frame but the last with the continuation bit
//! ([`SegmentWriter::append_run`]: a run that fails part-way leaves nothing of itself).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::sync::Arc;

use records::Batch;
use records::batch::Payload;

use crate::error::AppendError;
use crate::spool::segment::SegmentWriter;

/// One part in a run's file: a packed batch ([`Batch::into_bytes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Part {
    /// Bytes it takes in the file.
    pub len: u64,
    pub records: u64,
}

/// A request's records in parts, for the writer to append as one run.
pub(crate) struct Run {
    /// The parts, back to back from offset 0, in the order pushed.
    pub file: Arc<File>,
    pub parts: Vec<Part>,
    /// The request's last packed batch and its records (`None`: it had none left after the
    /// parts; then the last part is the run's last frame).
    pub last: Option<(Vec<u8>, u64)>,
}

impl Run {
    /// Payload bytes of all its frames.
    pub fn len(&self) -> u64 {
        let parts: u64 = self.parts.iter().map(|p| p.len).sum();
        parts + self.last.as_ref().map_or(0, |(l, _)| l.len() as u64)
    }
}

/// Why a run could not be written (nothing of it stays in the segment).
#[derive(Debug, thiserror::Error)]
pub(super) enum RunError {
    #[error("could not write to the spool: {0}")]
    Write(#[source] io::Error),
    #[error("could not read the request's parts back: {0}")]
    Read(#[source] io::Error),
}

impl RunError {
    pub fn into_append_error(self) -> AppendError {
        match self {
            RunError::Write(e) => AppendError::from_io("write to the spool", &e),
            RunError::Read(e) => {
                AppendError::from_io("read the request's parts back from the spool", &e)
            }
        }
    }
}

/// Writes `run` to `seg` as one run of frames, its first record numbered `first_seq` and each
/// part's the one after the previous part's last. Each part is read into `buf`, whose
/// capacity ends at the largest part's length. On error nothing of the run is left in `seg`
/// (unless the cut failed: [`SegmentWriter::is_torn`]).
pub(super) fn write(
    seg: &mut SegmentWriter,
    run: Run,
    first_seq: u64,
    buf: &mut Vec<u8>,
) -> Result<(), RunError> {
    let Run { file, parts, last } = run;
    seg.append_run(|frames| {
        let mut file = &*file;
        file.seek(SeekFrom::Start(0)).map_err(RunError::Read)?;
        let mut seq = first_seq;
        for (i, part) in parts.iter().enumerate() {
            read_part(&mut file, part, buf).map_err(RunError::Read)?;
            *buf = Batch::stamp(std::mem::take(buf), seq);
            let continues = i + 1 < parts.len() || last.is_some();
            (frames.frame(buf, part.records, continues)).map_err(RunError::Write)?;
            seq += part.records;
        }
        if let Some((payload, records)) = last {
            let payload = Batch::stamp(payload, seq);
            frames
                .frame(&payload, records, false)
                .map_err(RunError::Write)?;
        }
        Ok(())
    })
}

/// Reads `part` (the next in `file`) into `buf`, growing it to the part's length only.
fn read_part(file: &mut &File, part: &Part, buf: &mut Vec<u8>) -> io::Result<()> {
    let len = usize::try_from(part.len).map_err(|_| io::Error::other("part over usize"))?;
    buf.clear();
    buf.reserve_exact(len);
    buf.resize(len, 0);
    file.read_exact(buf)?;
    match Payload::parse(buf) {
        Some(p) if p.records == part.records => Ok(()),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "a part read back is not the batch pushed",
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::spool::segment::{CONTINUES, FRAME_HEADER_LEN, Header};

    fn batch(ids: std::ops::Range<u64>) -> Vec<u8> {
        let mut b = Batch::new(chrono::Utc::now());
        for i in ids {
            b.push_record(format!(r#"{{"id":{i},"pad":"{}"}}"#, "x".repeat(i as usize)).as_bytes());
        }
        b.into_bytes()
    }

    /// A run of `parts` (id ranges) in a temporary file, then `last`.
    fn run(parts: &[std::ops::Range<u64>], last: Option<std::ops::Range<u64>>) -> Run {
        let mut file = tempfile::tempfile().unwrap();
        let parts = parts
            .iter()
            .map(|ids| {
                let b = batch(ids.clone());
                file.write_all(&b).unwrap();
                Part {
                    len: b.len() as u64,
                    records: ids.end - ids.start,
                }
            })
            .collect();
        Run {
            file: Arc::new(file),
            parts,
            last: last.map(|ids| (batch(ids.clone()), ids.end - ids.start)),
        }
    }

    /// `(continues, first_seq, records, ids)` of each frame in the segment file at `path`.
    fn frames(path: &std::path::Path) -> Vec<(bool, u64, u64, Vec<u64>)> {
        let data = std::fs::read(path).unwrap();
        let mut at = Header::parse(&data).unwrap().len as usize;
        let mut out = Vec::new();
        while at < data.len() {
            let len = u32::from_le_bytes(data[at..at + 4].try_into().unwrap());
            let size = (len & !CONTINUES) as usize;
            let body = &data[at + FRAME_HEADER_LEN..at + FRAME_HEADER_LEN + size];
            let p = Payload::parse(body).unwrap();
            let ids = (p.entries())
                .filter_map(|e| match e.unwrap() {
                    records::batch::Entry::Record(r) => {
                        let v: serde_json::Value = serde_json::from_slice(r).unwrap();
                        Some(v["id"].as_u64().unwrap())
                    }
                    records::batch::Entry::Group(_) => None,
                })
                .collect();
            out.push((len & CONTINUES != 0, p.first_seq, p.records, ids));
            at += FRAME_HEADER_LEN + size;
        }
        out
    }

    #[test]
    fn parts_and_last_are_one_run_read_through_one_part_sized_buffer() {
        let dir = tempfile::tempdir().unwrap();
        let mut seg = SegmentWriter::create(dir.path(), 7, 0, "a").unwrap();
        seg.append(&Batch::stamp(batch(0..2), 7), 2).unwrap();
        let before = seg.info().bytes;
        let run = run(&[10..13, 13..50, 50..52], Some(52..54));
        let largest = run.parts.iter().map(|p| p.len).max().unwrap();
        let total = run.len();
        let mut buf = Vec::new();
        write(&mut seg, run, 9, &mut buf).unwrap();
        assert_eq!(
            buf.capacity() as u64,
            largest,
            "one buffer, as large as the largest part"
        );
        assert_eq!(seg.info().records, 2 + 44);
        assert_eq!(
            seg.info().bytes,
            before + total + 4 * FRAME_HEADER_LEN as u64
        );
        let got = frames(&seg.info().path);
        let want = [
            (false, 7, 2, (0..2).collect::<Vec<_>>()),
            (true, 9, 3, (10..13).collect()),
            (true, 12, 37, (13..50).collect()),
            (true, 49, 2, (50..52).collect()),
            (false, 51, 2, (52..54).collect()),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn without_a_last_batch_the_last_part_ends_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let mut seg = SegmentWriter::create(dir.path(), 1, 0, "a").unwrap();
        write(&mut seg, run(&[0..2, 2..5], None), 1, &mut Vec::new()).unwrap();
        let got: Vec<_> = frames(&seg.info().path)
            .into_iter()
            .map(|(c, s, r, _)| (c, s, r))
            .collect();
        assert_eq!(got, [(true, 1, 2), (false, 3, 3)]);
    }

    #[test]
    fn a_run_failing_part_way_leaves_nothing_of_itself() {
        let dir = tempfile::tempdir().unwrap();
        let mut seg = SegmentWriter::create(dir.path(), 1, 0, "a").unwrap();
        seg.append(&Batch::stamp(batch(0..1), 1), 1).unwrap();
        let before = seg.info().clone();
        let mut bad = run(&[1..3, 3..6, 6..8], Some(8..9));
        // The third part is not what was pushed: two frames are written, then it fails.
        bad.parts[2].records = 5;
        let err = write(&mut seg, bad, 2, &mut Vec::new()).unwrap_err();
        assert!(matches!(err, RunError::Read(_)), "{err}");
        assert!(!seg.is_torn());
        assert_eq!(seg.info(), &before, "the run does not count");
        assert_eq!(
            std::fs::metadata(&before.path).unwrap().len(),
            before.bytes,
            "its frames are cut off the file"
        );
        // The next append starts where the run started.
        seg.append(&Batch::stamp(batch(1..3), 2), 2).unwrap();
        let got: Vec<_> = frames(&before.path)
            .into_iter()
            .map(|(c, s, r, _)| (c, s, r))
            .collect();
        assert_eq!(got, [(false, 1, 1), (false, 2, 2)]);
    }
}
