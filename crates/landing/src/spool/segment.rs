//! Spool segment files: one per batch file to land.
//!
//! `{first_seq:020}.seg` = header (`SNOWSEG2`, first_seq u64, opened_at_ms i64, instance id
//! as u16 length + bytes: the instance that cut the batch, whose key it keeps when a later run
//! lands it) followed by frames `len u32 | crc32c u32 | payload`, one per appended request, or
//! several for one large request appended in parts (a *run*, [`SegmentWriter::append_run`]):
//! bit 31 of `len` ([`CONTINUES`]) marks every frame of a run but its last, "the next frame
//! belongs to the same append". Each frame is a whole batch payload on its own; the bit only
//! tells recovery that a run whose last frame is missing was never acknowledged, so it is cut
//! as a torn tail is. Segments of older versions (`SNOWSEG1`: no instance id) are still read,
//! and recovery writes that form when it rebuilds a damaged header whose instance id it cannot
//! trust. A crash can only tear the tail of the segment being written; recovery
//! ([`super::recover`]) cuts it at the last whole frame (and before an unfinished run), which
//! is never before anything acknowledged (acks follow the fsync).
//!
//! Downgrades: a snowstream from before runs reads a frame with bit 31 set as corrupt (its
//! length is over [`MAX_FRAME_LEN`]). Drain the spool before downgrading: stop cleanly (a
//! clean stop lands what the spool holds, within its shutdown timeout) and check the stream
//! folders hold no `.seg` file, then start the older version (docs/architecture.md).

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, IoSlice, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

const MAGIC_V1: &[u8; 8] = b"SNOWSEG1";
const MAGIC: &[u8; 8] = b"SNOWSEG2";
/// Header bytes before the instance id (magic, first_seq, opened_at_ms, instance length).
pub(crate) const FIXED_HEADER_LEN: usize = 26;
/// Bytes of a `SNOWSEG1` header (magic, first_seq, opened_at_ms).
pub(crate) const V1_HEADER_LEN: usize = 24;
pub(crate) const FRAME_HEADER_LEN: usize = 8;
/// A frame larger than this is corruption, not data (requests are capped far below).
pub(crate) const MAX_FRAME_LEN: u32 = 1 << 31;
/// Bit 31 of a frame's `len`: the next frame belongs to the same append (a run). Lengths are
/// below [`MAX_FRAME_LEN`], so the bit is free, and no segment written before runs has it.
pub(crate) const CONTINUES: u32 = 1 << 31;

/// A frame's payload length and whether the next frame belongs to the same append, from the
/// `len` field of its header.
pub(crate) fn split_len(len: u32) -> (u32, bool) {
    (len & !CONTINUES, len & CONTINUES != 0)
}

/// What is known about a segment, from its header and frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SegmentInfo {
    pub path: PathBuf,
    pub first_seq: u64,
    pub opened_at_ms: i64,
    /// The instance that cut the batch (`None` in a `SNOWSEG1` segment).
    pub instance: Option<String>,
    /// Records in intact frames: what lands.
    pub records: u64,
    /// Records of corrupt frames that recovery skipped (their sequence numbers stay unused).
    pub lost: u64,
    pub bytes: u64,
}

impl SegmentInfo {
    pub fn last_seq(&self) -> u64 {
        self.first_seq + (self.records + self.lost).saturating_sub(1)
    }
}

/// A segment's header, as written and as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    pub first_seq: u64,
    pub opened_at_ms: i64,
    pub instance: Option<String>,
    /// Bytes the header takes: frames start here.
    pub len: u64,
}

impl Header {
    /// The header bytes of a segment; without an instance id, a `SNOWSEG1` header (a rebuilt
    /// one: its batch then lands under the instance id of the run that lands it).
    pub(crate) fn encode(
        first_seq: u64,
        opened_at_ms: i64,
        instance: Option<&str>,
    ) -> io::Result<Vec<u8>> {
        let mut h = Vec::with_capacity(FIXED_HEADER_LEN + instance.map_or(0, str::len));
        h.extend_from_slice(if instance.is_some() { MAGIC } else { MAGIC_V1 });
        h.extend_from_slice(&first_seq.to_le_bytes());
        h.extend_from_slice(&opened_at_ms.to_le_bytes());
        if let Some(instance) = instance {
            let id_len = u16::try_from(instance.len())
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "instance id too long"))?;
            h.extend_from_slice(&id_len.to_le_bytes());
            h.extend_from_slice(instance.as_bytes());
        }
        Ok(h)
    }

    /// Parses the header at the start of `bytes`; `None` when it is missing, torn or unknown.
    pub fn parse(bytes: &[u8]) -> Option<Header> {
        let magic = bytes.get(..8)?;
        let first_seq = u64::from_le_bytes(bytes.get(8..16)?.try_into().ok()?);
        let opened_at_ms = i64::from_le_bytes(bytes.get(16..24)?.try_into().ok()?);
        if magic == MAGIC_V1 {
            return Some(Header {
                first_seq,
                opened_at_ms,
                instance: None,
                len: V1_HEADER_LEN as u64,
            });
        }
        if magic != MAGIC {
            return None;
        }
        let id_len = u16::from_le_bytes(bytes.get(24..26)?.try_into().ok()?) as usize;
        let id = bytes.get(FIXED_HEADER_LEN..FIXED_HEADER_LEN + id_len)?;
        Some(Header {
            first_seq,
            opened_at_ms,
            instance: Some(String::from_utf8(id.to_vec()).ok()?),
            len: (FIXED_HEADER_LEN + id_len) as u64,
        })
    }

    /// The header length of the segment `r` is at the start of (reads its first bytes).
    fn read_len(r: &mut impl Read) -> io::Result<u64> {
        let mut fixed = [0u8; FIXED_HEADER_LEN];
        r.read_exact(&mut fixed)?;
        match &fixed[..8] {
            m if m == MAGIC_V1 => Ok(V1_HEADER_LEN as u64),
            m if m == MAGIC => {
                let id_len = u16::from_le_bytes(fixed[24..26].try_into().unwrap());
                Ok((FIXED_HEADER_LEN + usize::from(id_len)) as u64)
            }
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "not a spool segment header",
            )),
        }
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
    /// A failed append left part of a frame that could not be cut off.
    torn: bool,
    /// A failed rollback left bytes past the durable end in the file (see
    /// [`SegmentWriter::rollback`]).
    uncut: bool,
}

impl SegmentWriter {
    /// Creates `{first_seq:020}.seg` in `dir` for a batch cut by `instance`, durably.
    pub fn create(
        dir: &Path,
        first_seq: u64,
        opened_at_ms: i64,
        instance: &str,
    ) -> io::Result<Self> {
        let header = Header::encode(first_seq, opened_at_ms, Some(instance))?;
        let path = segment_path(dir, first_seq);
        let mut file = OpenOptions::new()
            .create_new(true)
            .write(true)
            .open(&path)?;
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
                instance: Some(instance.to_owned()),
                records: 0,
                lost: 0,
                bytes: header.len() as u64,
            },
            durable: (0, header.len() as u64),
            scratch: Vec::new(),
            torn: false,
            uncut: false,
        })
    }

    /// Writes one frame (not yet durable: call [`SegmentWriter::sync`]).
    pub fn append(&mut self, payload: &[u8], records: u64) -> io::Result<()> {
        self.append_run(|run| run.frame(payload, records, false))
    }

    /// Writes one append as a run of frames (not yet durable: call [`SegmentWriter::sync`]):
    /// `frames` writes them in order with [`RunWriter::frame`], the last one without `continues`.
    /// The run counts ([`SegmentWriter::info`]) only once `frames` returns `Ok`. If it fails,
    /// whatever it wrote is cut off the file, so the file ends where the run started and the
    /// next append starts clean; if even that cut fails, the segment is torn
    /// ([`SegmentWriter::is_torn`]) and the caller must seal it.
    pub fn append_run<E>(
        &mut self,
        frames: impl FnOnce(&mut RunWriter<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut run = RunWriter {
            seg: self,
            records: 0,
            bytes: 0,
            open: false,
        };
        let written = frames(&mut run);
        let (records, bytes, open) = (run.records, run.bytes, run.open);
        debug_assert!(
            written.is_err() || !open,
            "a run's last frame has no continuation bit"
        );
        if let Err(e) = written {
            // Cut the part written (disk full, I/O error) so the file ends at a whole frame
            // before the run; if that fails, the caller must seal.
            let end = self.info.bytes;
            let cut = self
                .file
                .set_len(end)
                .and_then(|()| self.file.seek(SeekFrom::Start(end)).map(drop));
            self.torn = cut.is_err();
            return Err(e);
        }
        self.info.records += records;
        self.info.bytes += bytes;
        Ok(())
    }

    fn write_frame(&mut self, payload: &[u8]) -> io::Result<()> {
        fail::fail_point!("spool-segment-append", |arg| {
            // As a full disk does: part of the frame is written, then the write fails.
            self.file.write_all(&self.scratch[..4])?;
            Err(crate::error::injected_io_error(arg))
        });
        // Header and payload in one `writev`: one syscall per append instead of two (the
        // spool writer's share of a single-record request is mostly these syscalls).
        let mut slices = [IoSlice::new(&self.scratch), IoSlice::new(payload)];
        let mut left = &mut slices[..];
        while !left.is_empty() {
            match self.file.write_vectored(left) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => IoSlice::advance_slices(&mut left, n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Whether a failed append left part of a frame in the file (it must be sealed).
    pub fn is_torn(&self) -> bool {
        self.torn
    }

    pub fn sync(&mut self) -> io::Result<()> {
        fail::fail_point!("spool-segment-sync", |arg| Err(
            crate::error::injected_io_error(arg)
        ));
        self.file.sync_data()?;
        self.durable = (self.info.records, self.info.bytes);
        Ok(())
    }

    /// A handle of its own to the file, for an fsync on another thread
    /// (the writer's sync thread); [`SegmentWriter::synced`] records its success.
    pub fn sync_handle(&self) -> io::Result<File> {
        self.file.try_clone()
    }

    /// An fsync run elsewhere made the first `upto` records and bytes durable.
    pub fn synced(&mut self, upto: (u64, u64)) {
        self.durable = upto;
    }

    /// Cuts everything written since the last successful sync off the file (frames whose
    /// requests were refused, a torn tail) and makes the cut durable. Returns the records and
    /// bytes removed.
    ///
    /// From the call on, only what was durable counts ([`SegmentWriter::info`]), whether or
    /// not the cut reaches the disk: a segment whose cut failed lands (and is read back) up to
    /// its durable end only, so refused frames never land with it and its counts stay true.
    /// The cut is tried again when the segment is sealed ([`SegmentWriter::into_info`]).
    pub fn rollback(&mut self) -> io::Result<(u64, u64)> {
        let (records, bytes) = self.durable;
        let dropped = (self.info.records - records, self.info.bytes - bytes);
        self.info.records = records;
        self.info.bytes = bytes;
        self.uncut = true;
        self.cut()?;
        Ok(dropped)
    }

    /// Truncates the file to its durable end, durably.
    fn cut(&mut self) -> io::Result<()> {
        let bytes = self.info.bytes;
        fail::fail_point!("spool-segment-truncate", |arg| Err(
            crate::error::injected_io_error(arg)
        ));
        self.file.set_len(bytes)?;
        self.file.seek(SeekFrom::Start(bytes))?;
        fail::fail_point!("spool-segment-truncate-sync", |arg| Err(
            crate::error::injected_io_error(arg)
        ));
        self.file.sync_data()?;
        self.uncut = false;
        Ok(())
    }

    pub fn info(&self) -> &SegmentInfo {
        &self.info
    }

    /// What the sealed segment holds. A cut that failed is tried once more (a crash before
    /// it lands would otherwise recover the refused frames too).
    pub fn into_info(mut self) -> SegmentInfo {
        if self.uncut
            && let Err(e) = self.cut()
        {
            tracing::error!(segment = %self.info.path.display(), error = %e, durable_bytes = self.info.bytes,
                "could not cut refused records off a sealed spool segment; it lands up to its durable end, but a crash before it lands would land the refused records too");
        }
        self.info
    }
}

/// One append's frames being written ([`SegmentWriter::append_run`]).
pub(crate) struct RunWriter<'a> {
    seg: &'a mut SegmentWriter,
    records: u64,
    bytes: u64,
    /// The last frame written has the continuation bit.
    open: bool,
}

impl RunWriter<'_> {
    /// Writes the run's next frame, of `records` records; `continues`: another frame of the
    /// run follows (set on every frame but the last).
    pub fn frame(&mut self, payload: &[u8], records: u64, continues: bool) -> io::Result<()> {
        let len = u32::try_from(payload.len())
            .ok()
            .filter(|l| *l < MAX_FRAME_LEN)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "frame over 2 GiB"))?;
        let seg = &mut *self.seg;
        seg.scratch.clear();
        let len_field = if continues { len | CONTINUES } else { len };
        seg.scratch.extend_from_slice(&len_field.to_le_bytes());
        seg.scratch
            .extend_from_slice(&crc32c::crc32c(payload).to_le_bytes());
        seg.write_frame(payload)?;
        self.records += records;
        self.bytes += (FRAME_HEADER_LEN + payload.len()) as u64;
        self.open = continues;
        Ok(())
    }
}

/// Reads the next whole, checksummed frame into `buf` (a frame of a run is read like any
/// other: its continuation bit is dropped). `Ok(None)` at the end or at a torn or corrupt
/// frame.
pub(crate) fn read_frame(r: &mut impl Read, buf: &mut Vec<u8>) -> io::Result<Option<()>> {
    let mut head = [0u8; FRAME_HEADER_LEN];
    match r.read_exact(&mut head) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let (len, _) = split_len(u32::from_le_bytes(head[..4].try_into().unwrap()));
    let crc = u32::from_le_bytes(head[4..].try_into().unwrap());
    buf.clear();
    let got = r.take(u64::from(len)).read_to_end(buf)?;
    if got != len as usize || crc32c::crc32c(buf) != crc {
        return Ok(None);
    }
    Ok(Some(()))
}

/// Calls `f` with each frame's payload, in order, reading no further than byte `end` of the
/// file (a sealed segment's `bytes`: past it lie only refused frames a failed cut left).
pub(crate) fn for_each_frame(
    path: &Path,
    end: u64,
    mut f: impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<()> {
    let mut file = File::open(path)?;
    let header_len = Header::read_len(&mut file)?;
    file.seek(SeekFrom::Start(header_len))?;
    let body = file.take(end.saturating_sub(header_len));
    let mut reader = BufReader::with_capacity(1 << 20, body);
    let mut payload = Vec::new();
    while let Some(()) = read_frame(&mut reader, &mut payload)? {
        f(&payload)?;
    }
    Ok(())
}

pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// `(continues, first_seq, records)` of every whole frame in the segment file at `path`, read
/// from the raw bytes (the continuation bit included), for tests.
#[cfg(test)]
pub(crate) fn frame_heads(path: &Path) -> Vec<(bool, u64, u64)> {
    let data = std::fs::read(path).unwrap();
    let mut at = Header::parse(&data).unwrap().len as usize;
    let mut out = Vec::new();
    while at + FRAME_HEADER_LEN <= data.len() {
        let (len, continues) = split_len(u32::from_le_bytes(data[at..at + 4].try_into().unwrap()));
        let start = at + FRAME_HEADER_LEN;
        let Some(p) = data
            .get(start..start + len as usize)
            .and_then(records::batch::Payload::parse)
        else {
            break;
        };
        out.push((continues, p.first_seq, p.records));
        at = start + len as usize;
    }
    out
}
