//! Spool segment files: one per batch file to land.
//!
//! `{first_seq:020}.seg` = header (`SNOWSEG1`, first_seq u64, opened_at_ms i64) followed by
//! frames `len u32 | crc32c u32 | payload`, one per appended request. A crash can only tear
//! the tail of the segment being written; recovery cuts it at the last whole frame, which is
//! never before anything acknowledged (acks follow the fsync).

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use records::batch::Payload;

const MAGIC: &[u8; 8] = b"SNOWSEG1";
pub(crate) const SEGMENT_HEADER_LEN: u64 = 24;
const FRAME_HEADER_LEN: usize = 8;
/// A frame larger than this is corruption, not data (requests are capped far below).
const MAX_FRAME_LEN: u32 = 1 << 31;

/// What is known about a segment, from its header and frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SegmentInfo {
    pub path: PathBuf,
    pub first_seq: u64,
    pub opened_at_ms: i64,
    pub records: u64,
    pub bytes: u64,
}

impl SegmentInfo {
    pub fn last_seq(&self) -> u64 {
        self.first_seq + self.records.saturating_sub(1)
    }
}

/// File-name suffix of spool segments (`{first_seq:020}.seg`).
pub(crate) const SUFFIX: &str = ".seg";

pub(crate) fn segment_path(dir: &Path, first_seq: u64) -> PathBuf {
    dir.join(format!("{first_seq:020}{SUFFIX}"))
}

/// Appends frames to the open segment.
pub(crate) struct SegmentWriter {
    file: File,
    info: SegmentInfo,
    /// `(records, bytes)` as of the last successful sync: what is durable.
    durable: (u64, u64),
    scratch: Vec<u8>,
}

impl SegmentWriter {
    pub fn create(dir: &Path, first_seq: u64, opened_at_ms: i64) -> io::Result<Self> {
        let path = segment_path(dir, first_seq);
        let mut file = OpenOptions::new()
            .create_new(true)
            .write(true)
            .open(&path)?;
        let mut header = Vec::with_capacity(SEGMENT_HEADER_LEN as usize);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&first_seq.to_le_bytes());
        header.extend_from_slice(&opened_at_ms.to_le_bytes());
        let made = file
            .write_all(&header)
            .and_then(|()| file.sync_all())
            .and_then(|()| sync_dir(dir));
        if let Err(e) = made {
            // A half-made segment (disk full, I/O error) must not stay: it holds nothing
            // acknowledged, and its name would make every later create fail "file exists".
            drop(file);
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
        Ok(SegmentWriter {
            file,
            info: SegmentInfo {
                path,
                first_seq,
                opened_at_ms,
                records: 0,
                bytes: SEGMENT_HEADER_LEN,
            },
            durable: (0, SEGMENT_HEADER_LEN),
            scratch: Vec::new(),
        })
    }

    /// Writes one frame (not yet durable: call [`SegmentWriter::sync`]).
    pub fn append(&mut self, payload: &[u8], records: u64) -> io::Result<()> {
        self.scratch.clear();
        let len = u32::try_from(payload.len())
            .ok()
            .filter(|l| *l < MAX_FRAME_LEN)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "frame over 2 GiB"))?;
        self.scratch.extend_from_slice(&len.to_le_bytes());
        self.scratch
            .extend_from_slice(&crc32c::crc32c(payload).to_le_bytes());
        self.file.write_all(&self.scratch)?;
        self.file.write_all(payload)?;
        self.info.records += records;
        self.info.bytes += (FRAME_HEADER_LEN + payload.len()) as u64;
        Ok(())
    }

    pub fn sync(&mut self) -> io::Result<()> {
        fail::fail_point!("spool-segment-sync", |_| Err(io::Error::other(
            "injected fsync failure (failpoint spool-segment-sync)"
        )));
        self.file.sync_data()?;
        self.durable = (self.info.records, self.info.bytes);
        Ok(())
    }

    /// Cuts everything written since the last successful sync off the file (frames whose
    /// requests were refused, a torn tail) and makes the cut durable. Returns the records and
    /// bytes removed.
    pub fn rollback(&mut self) -> io::Result<(u64, u64)> {
        let (records, bytes) = self.durable;
        self.file.set_len(bytes)?;
        self.file.seek(SeekFrom::Start(bytes))?;
        self.file.sync_data()?;
        let dropped = (self.info.records - records, self.info.bytes - bytes);
        self.info.records = records;
        self.info.bytes = bytes;
        Ok(dropped)
    }

    pub fn info(&self) -> &SegmentInfo {
        &self.info
    }

    pub fn into_info(self) -> SegmentInfo {
        self.info
    }
}

/// Reads a segment left by an earlier run, cutting a torn tail. Returns `None` (and removes
/// the file) when it holds no whole frame.
pub(crate) fn recover(path: &Path) -> io::Result<Option<SegmentInfo>> {
    let mut file = OpenOptions::new().read(true).write(true).open(path)?;
    let len = file.metadata()?.len();
    let mut header = [0u8; SEGMENT_HEADER_LEN as usize];
    if len < SEGMENT_HEADER_LEN || file.read_exact(&mut header).is_err() || &header[..8] != MAGIC {
        drop(file);
        fs::remove_file(path)?;
        return Ok(None);
    }
    let first_seq = u64::from_le_bytes(header[8..16].try_into().unwrap());
    let opened_at_ms = i64::from_le_bytes(header[16..24].try_into().unwrap());
    let mut info = SegmentInfo {
        path: path.to_owned(),
        first_seq,
        opened_at_ms,
        records: 0,
        bytes: SEGMENT_HEADER_LEN,
    };
    let mut reader = BufReader::with_capacity(1 << 20, &mut file);
    let mut good_end = SEGMENT_HEADER_LEN;
    let mut payload = Vec::new();
    while let Some(()) = read_frame(&mut reader, &mut payload)? {
        let Some(p) = Payload::parse(&payload) else {
            break;
        };
        if p.first_seq != first_seq + info.records {
            break;
        }
        info.records += p.records;
        good_end += (FRAME_HEADER_LEN + payload.len()) as u64;
    }
    drop(reader);
    if good_end < len {
        tracing::warn!(
            segment = %path.display(),
            kept = good_end,
            dropped = len - good_end,
            "spool segment had a torn tail (unacknowledged data from a crash); cut it"
        );
        file.set_len(good_end)?;
        file.sync_all()?;
    }
    info.bytes = good_end;
    if info.records == 0 {
        drop(file);
        fs::remove_file(path)?;
        return Ok(None);
    }
    file.seek(SeekFrom::Start(0))?;
    Ok(Some(info))
}

/// Reads the next whole, checksummed frame into `buf`. `Ok(None)` at the end or at a torn or
/// corrupt frame.
fn read_frame(r: &mut impl Read, buf: &mut Vec<u8>) -> io::Result<Option<()>> {
    let mut head = [0u8; FRAME_HEADER_LEN];
    match r.read_exact(&mut head) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_le_bytes(head[..4].try_into().unwrap());
    let crc = u32::from_le_bytes(head[4..].try_into().unwrap());
    if len >= MAX_FRAME_LEN {
        return Ok(None);
    }
    buf.clear();
    let got = r.take(u64::from(len)).read_to_end(buf)?;
    if got != len as usize || crc32c::crc32c(buf) != crc {
        return Ok(None);
    }
    Ok(Some(()))
}

/// Calls `f` with each frame's payload, in order.
pub(crate) fn for_each_frame(
    path: &Path,
    mut f: impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<()> {
    let file = File::open(path)?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut header = [0u8; SEGMENT_HEADER_LEN as usize];
    reader.read_exact(&mut header)?;
    let mut payload = Vec::new();
    while let Some(()) = read_frame(&mut reader, &mut payload)? {
        f(&payload)?;
    }
    Ok(())
}

pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use records::Batch;

    fn batch(n: u64) -> Batch {
        let mut b = Batch::new(chrono::Utc::now());
        for i in 0..n {
            b.push_record(format!(r#"{{"i":{i}}}"#).as_bytes());
        }
        b
    }

    #[test]
    fn recover_keeps_whole_frames_and_cuts_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = SegmentWriter::create(dir.path(), 10, 5).unwrap();
        w.append(&batch(3).into_payload(10), 3).unwrap();
        w.append(&batch(2).into_payload(13), 2).unwrap();
        w.sync().unwrap();
        let whole = w.info().bytes;
        let path = w.info().path.clone();
        drop(w);
        // a torn third frame: header claims more bytes than were written
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&100u32.to_le_bytes()).unwrap();
        f.write_all(&[1, 2, 3, 4, 5, 6]).unwrap();
        drop(f);
        let info = recover(&path).unwrap().unwrap();
        assert_eq!((info.first_seq, info.records, info.last_seq()), (10, 5, 14));
        assert_eq!(info.bytes, whole);
        assert_eq!(fs::metadata(&path).unwrap().len(), whole);
        let mut frames = 0;
        for_each_frame(&path, |_| {
            frames += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(frames, 2);
    }

    #[test]
    fn recover_cuts_at_a_corrupt_checksum() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = SegmentWriter::create(dir.path(), 1, 5).unwrap();
        w.append(&batch(1).into_payload(1), 1).unwrap();
        w.append(&batch(1).into_payload(2), 1).unwrap();
        w.sync().unwrap();
        let path = w.info().path.clone();
        let len = w.info().bytes;
        drop(w);
        let mut bytes = fs::read(&path).unwrap();
        let last = (len - 1) as usize;
        bytes[last] ^= 0xff;
        fs::write(&path, &bytes).unwrap();
        let info = recover(&path).unwrap().unwrap();
        assert_eq!(info.records, 1);
    }

    #[test]
    fn empty_segment_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let w = SegmentWriter::create(dir.path(), 1, 5).unwrap();
        let path = w.info().path.clone();
        drop(w);
        assert_eq!(recover(&path).unwrap(), None);
        assert!(!path.exists());
    }
}
