//! Recovering a segment an earlier run left in the spool.
//!
//! A crash can only tear the tail of the segment being written: frames after the last whole
//! one are cut (nothing acknowledged is there, acks follow the fsync), and so is an unfinished
//! run (the frames of one append written in parts, [`super::segment::CONTINUES`], whose last
//! frame is not there: a run is acknowledged only once all of it is written). Everything else
//! is the disk corrupting acknowledged data, and is never dropped silently:
//! - a bad frame *followed by intact ones*;
//! - a bad tail in a *sealed* segment (one cut before the crash: a later segment exists, or
//!   the `next_seq` file is past its first record), when its intact frames stop short of the
//!   sequence number after it (every frame up to there was fsync'd and acknowledged; junk
//!   past it is a failed append that could not be cut, a torn tail as above);
//! - a damaged header (bad magic, torn, or a first_seq that disagrees with the file name):
//!   see [`header`].
//!
//! Such a segment is copied as it is to `{stream folder}/quarantine/` for inspection, the
//! metrics `snowstream_spool_corrupt_frames_total{stream}` (bad frames) and
//! `snowstream_spool_corrupt_headers_total{stream}` (damaged headers) count it, an ERROR log
//! says where the copy is, and the segment is rewritten with a good header and its intact
//! frames (each lost stretch replaced by a record-less *gap* frame that keeps its sequence
//! numbers unused), so those land and a second recovery finds nothing more to quarantine.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use records::batch::Payload;

use super::segment::{FRAME_HEADER_LEN, SegmentInfo, split_len, sync_dir};
use crate::metric_names::{SPOOL_CORRUPT_FRAMES_TOTAL, SPOOL_CORRUPT_HEADERS_TOTAL};
use crate::spool::next_seq;

mod header;
#[cfg(test)]
mod run_tests;

/// Name of the stream folder's subfolder that keeps copies of corrupt segments.
pub(crate) const QUARANTINE_DIR: &str = "quarantine";
/// Suffix of the file a corrupt segment is rewritten into (removed on start if left).
pub(crate) const REWRITE_SUFFIX: &str = ".rewrite.tmp";
/// Bytes of a payload header (first_seq, received_at_ms, records).
const PAYLOAD_HEADER_LEN: usize = 24;
/// Most sequence numbers a corrupt stretch may hide (a resync candidate further on is noise).
const MAX_GAP: u64 = 1 << 40;

/// One intact frame found in a segment.
struct Frame {
    start: usize,
    end: usize,
    first_seq: u64,
    /// Records it declares.
    records: u64,
    /// A gap frame (no entries): stands for records lost to corruption.
    gap: bool,
    /// The next frame belongs to the same append (the continuation bit).
    continues: bool,
}

/// Reads the segment at `path` (of `stream`), cuts a torn tail and quarantines corruption.
/// Returns `None` (and removes the file) when it holds no record to land.
pub(crate) fn recover(path: &Path, stream: &str) -> io::Result<Option<SegmentInfo>> {
    let data = fs::read(path)?;
    let named = header::seq_of_name(path);
    let (header, rebuilt) = match header::trusted(&data, named) {
        Some(h) => (h, None),
        None => match header::rebuild(&data, named)? {
            Some(r) => (r.header.clone(), Some(r)),
            None => {
                header::discard(path, stream, &data, named)?;
                return Ok(None);
            }
        },
    };
    let mut info = SegmentInfo {
        path: path.to_owned(),
        first_seq: header.first_seq,
        opened_at_ms: header.opened_at_ms,
        instance: header.instance.clone(),
        records: 0,
        lost: 0,
        bytes: header.len,
    };
    let mut frames = Vec::new();
    let (mut pos, mut expected) = (header.len as usize, header.first_seq);
    while let Some(f) = next_intact(&data, pos, expected) {
        (pos, expected) = (f.end, f.first_seq + f.records);
        frames.push(f);
    }
    let unfinished = unfinished_run(path, header.first_seq, &frames)?;
    if unfinished > 0 {
        let cut = &frames[frames.len() - unfinished..];
        tracing::warn!(segment = %path.display(), frames = unfinished,
            records = cut.iter().map(|f| f.records).sum::<u64>(), at = cut[0].start,
            "spool segment ends in an unfinished run (an append in parts cut short by a crash, never acknowledged); cutting it");
        frames.truncate(frames.len() - unfinished);
    }
    let mut bad_spots = Vec::new();
    let (mut pos, mut expected) = (header.len as usize, header.first_seq);
    for f in &frames {
        if f.start != pos || f.first_seq != expected {
            bad_spots.push(pos);
            info.lost += f.first_seq - expected;
        }
        if f.gap {
            info.lost += f.records;
        } else {
            info.records += f.records;
        }
        (pos, expected) = (f.end, f.first_seq + f.records);
    }
    let good_end = frames.last().map_or(header.len as usize, |f| f.end);
    // Only a segment with bytes past its last intact frame needs to know whether it was sealed.
    let sealed_end = match good_end < data.len() {
        true => sealed_end(path, header.first_seq)?,
        false => None,
    };
    // A sealed segment whose intact frames stop short of its end lost acknowledged records.
    let lost_tail_end = sealed_end.filter(|end| expected < *end && end - expected <= MAX_GAP);
    if let Some(end) = lost_tail_end {
        info.lost += end - expected;
    }
    let bad_tail = lost_tail_end.map(|_| good_end);
    let corrupt = rebuilt.is_some() || !bad_spots.is_empty() || bad_tail.is_some();
    if !corrupt && good_end < data.len() {
        tracing::warn!(segment = %path.display(), kept = good_end, dropped = data.len() - good_end,
            "spool segment had a torn tail (unacknowledged data from a crash); cut it");
        let file = fs::OpenOptions::new().write(true).open(path)?;
        file.set_len(good_end as u64)?;
        file.sync_all()?;
    }
    if corrupt {
        let copy = quarantine(path, &data)?;
        let bad_frames = bad_spots.len() + usize::from(bad_tail.is_some());
        if bad_frames > 0 {
            metrics::counter!(SPOOL_CORRUPT_FRAMES_TOTAL, "stream" => stream.to_owned())
                .increment(bad_frames as u64);
        }
        if rebuilt.is_some() {
            metrics::counter!(SPOOL_CORRUPT_HEADERS_TOTAL, "stream" => stream.to_owned())
                .increment(1);
        }
        let what = [
            (rebuilt.is_some(), "a damaged header (rebuilt)"),
            (!bad_spots.is_empty(), "corrupt frames between intact ones"),
            (bad_tail.is_some(), "a corrupt tail in a sealed segment"),
        ]
        .iter()
        .filter_map(|(found, what)| found.then_some(*what))
        .collect::<Vec<_>>()
        .join(", ");
        tracing::error!(%stream, segment = %path.display(), quarantined = %copy.display(),
            bad_frames, at_offsets = ?bad_spots, bad_tail_at = ?bad_tail,
            header_rebuilt = ?rebuilt.as_ref().map(header::Rebuilt::describe),
            lost_records = info.lost, landing_records = info.records,
            "spool segment has {what} (disk corruption of acknowledged data): copied it to quarantine, landing its intact frames");
        let head = match &rebuilt {
            Some(r) => r.bytes.as_slice(),
            None => &data[..header.len as usize],
        };
        rewrite(path, head, &data, header.first_seq, &frames, lost_tail_end)?;
    }
    info.bytes = fs::metadata(path)?.len();
    if info.records == 0 {
        fs::remove_file(path)?;
        return Ok(None);
    }
    Ok(Some(info))
}

/// The sequence number after the last record of the segment at `path` (whose first is
/// `first_seq`) if it was sealed before the crash, `None` if it may have been the open one.
///
/// A segment is created only once the one before it is sealed, and the `next_seq` file is
/// written when a segment is sealed (before it may land), with the number after its last
/// record; the open segment starts at or after that number. So a segment was sealed when a
/// later one exists (it ends where that one starts), or when the file is past its first
/// record (the last sealed segment ends there, as nothing after it is left).
fn sealed_end(path: &Path, first_seq: u64) -> io::Result<Option<u64>> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut next = None;
    for entry in fs::read_dir(dir)? {
        if let Some(seq) = header::seq_of_name(&entry?.path()).filter(|s| *s > first_seq) {
            next = Some(next.map_or(seq, |n: u64| n.min(seq)));
        }
    }
    if next.is_some() {
        return Ok(next);
    }
    let saved = next_seq::read(dir)?.unwrap_or(0);
    Ok((first_seq < saved).then_some(saved))
}

/// How many of the last `frames` (intact, in order) are an unfinished run: the trailing
/// frames with the continuation bit, which a crash (or a failed write whose cut failed) left
/// without their run's last frame. They were never acknowledged, so they are cut like a torn
/// tail; the one exception is a sealed segment whose recorded end is past them: then the run
/// was finished and acknowledged, and its last frame is lost to corruption (reasoned about
/// with the rest of the tail).
fn unfinished_run(path: &Path, first_seq: u64, frames: &[Frame]) -> io::Result<usize> {
    let run = frames.iter().rev().take_while(|f| f.continues).count();
    if run == 0 {
        return Ok(0);
    }
    let last = &frames[frames.len() - 1];
    let acknowledged =
        sealed_end(path, first_seq)?.is_some_and(|end| last.first_seq + last.records <= end);
    Ok(if acknowledged { 0 } else { run })
}

/// The first intact frame at or after `from` whose records are not before `expected`.
fn next_intact(data: &[u8], from: usize, expected: u64) -> Option<Frame> {
    (from..data
        .len()
        .saturating_sub(FRAME_HEADER_LEN + PAYLOAD_HEADER_LEN - 1))
        .find_map(|at| frame_at(data, at, expected))
}

fn frame_at(data: &[u8], at: usize, expected: u64) -> Option<Frame> {
    let u32_at = |i: usize| u32::from_le_bytes(data[i..i + 4].try_into().unwrap());
    let u64_at = |i: usize| u64::from_le_bytes(data[i..i + 8].try_into().unwrap());
    let (len, continues) = split_len(u32_at(at));
    let start = at + FRAME_HEADER_LEN;
    let end = start.checked_add(len as usize)?;
    // Cheap checks first: most offsets of a corrupt stretch fail them without a checksum.
    if (len as usize) < PAYLOAD_HEADER_LEN || end > data.len() {
        return None;
    }
    let first_seq = u64_at(start);
    let records = u64_at(start + 16);
    if first_seq < expected || first_seq - expected > MAX_GAP || records > MAX_GAP {
        return None;
    }
    if crc32c::crc32c(&data[start..end]) != u32_at(at + 4) {
        return None;
    }
    let payload = Payload::parse(&data[start..end])?;
    Some(Frame {
        start: at,
        end,
        first_seq,
        records,
        gap: payload.entries().next().is_none(),
        continues,
    })
}

/// Copies the segment as found to the stream's quarantine folder; returns the copy's path.
fn quarantine(path: &Path, data: &[u8]) -> io::Result<PathBuf> {
    let dir = path.parent().unwrap_or(Path::new(".")).join(QUARANTINE_DIR);
    fs::create_dir_all(&dir)?;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let copy = dir.join(format!(
        "{name}.{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ")
    ));
    let mut f = fs::File::create(&copy)?;
    f.write_all(data)?;
    f.sync_all()?;
    sync_dir(&dir)?;
    Ok(copy)
}

/// Replaces the segment with `header` and its intact frames (copied as they are, continuation
/// bits included), each corrupt stretch (and a lost
/// tail up to `end`, the sequence number after a sealed segment) replaced by a gap frame,
/// atomically (temp file, fsync, rename, directory fsync).
fn rewrite(
    path: &Path,
    header: &[u8],
    data: &[u8],
    first_seq: u64,
    frames: &[Frame],
    end: Option<u64>,
) -> io::Result<()> {
    let mut out = header.to_vec();
    let mut expected = first_seq;
    for f in frames {
        if f.first_seq > expected {
            push_gap_frame(&mut out, expected, f.first_seq - expected);
        }
        out.extend_from_slice(&data[f.start..f.end]);
        expected = f.first_seq + f.records;
    }
    if let Some(end) = end.filter(|end| *end > expected) {
        push_gap_frame(&mut out, expected, end - expected);
    }
    let tmp = path.with_file_name(format!(
        "{}{REWRITE_SUFFIX}",
        path.file_name().unwrap_or_default().to_string_lossy()
    ));
    let mut f = fs::File::create(&tmp)?;
    f.write_all(&out)?;
    f.sync_all()?;
    fs::rename(&tmp, path)?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// A frame whose payload declares `records` records from `first_seq` but holds none.
fn push_gap_frame(out: &mut Vec<u8>, first_seq: u64, records: u64) {
    let mut payload = Vec::with_capacity(PAYLOAD_HEADER_LEN);
    payload.extend_from_slice(&first_seq.to_le_bytes());
    payload.extend_from_slice(&0i64.to_le_bytes());
    payload.extend_from_slice(&records.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
}

#[cfg(test)]
mod tests {
    use std::fs::OpenOptions;

    use super::*;
    use crate::spool::segment::{SegmentWriter, for_each_frame};
    use records::Batch;

    fn batch(n: u64) -> Batch {
        let mut b = Batch::new(chrono::Utc::now());
        for i in 0..n {
            b.push_record(format!(r#"{{"i":{i}}}"#).as_bytes());
        }
        b
    }

    /// `(first_seq, records)` of every frame of the segment at `path` (also for `header`'s tests).
    pub(super) fn frames(path: &Path) -> Vec<(u64, u64)> {
        let mut v = Vec::new();
        for_each_frame(path, u64::MAX, |p| {
            let p = Payload::parse(p).unwrap();
            v.push((p.first_seq, p.records));
            Ok(())
        })
        .unwrap();
        v
    }

    #[test]
    fn keeps_whole_frames_and_cuts_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = SegmentWriter::create(dir.path(), 10, 5, "a").unwrap();
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
        let info = recover(&path, "s").unwrap().unwrap();
        assert_eq!((info.first_seq, info.records, info.last_seq()), (10, 5, 14));
        assert_eq!(info.instance.as_deref(), Some("a"));
        assert_eq!(info.bytes, whole);
        assert_eq!(fs::metadata(&path).unwrap().len(), whole);
        assert_eq!(frames(&path), [(10, 3), (13, 2)]);
        assert!(!dir.path().join(QUARANTINE_DIR).exists());
    }

    #[test]
    fn a_corrupt_last_frame_is_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = SegmentWriter::create(dir.path(), 1, 5, "a").unwrap();
        w.append(&batch(1).into_payload(1), 1).unwrap();
        w.append(&batch(1).into_payload(2), 1).unwrap();
        w.sync().unwrap();
        let path = w.info().path.clone();
        let len = w.info().bytes;
        drop(w);
        let mut bytes = fs::read(&path).unwrap();
        bytes[(len - 1) as usize] ^= 0xff;
        fs::write(&path, &bytes).unwrap();
        let info = recover(&path, "s").unwrap().unwrap();
        assert_eq!((info.records, info.lost), (1, 0));
        assert!(!dir.path().join(QUARANTINE_DIR).exists());
    }

    #[test]
    fn a_corrupt_middle_frame_is_quarantined_and_the_rest_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = SegmentWriter::create(dir.path(), 1, 5, "a").unwrap();
        w.append(&batch(2).into_payload(1), 2).unwrap();
        let mid = w.info().bytes as usize + 40;
        w.append(&batch(3).into_payload(3), 3).unwrap();
        w.append(&batch(4).into_payload(6), 4).unwrap();
        w.sync().unwrap();
        let path = w.info().path.clone();
        drop(w);
        let mut bytes = fs::read(&path).unwrap();
        bytes[mid] ^= 0x5a;
        fs::write(&path, &bytes).unwrap();
        let info = recover(&path, "s").unwrap().unwrap();
        assert_eq!((info.records, info.lost, info.last_seq()), (6, 3, 9));
        assert_eq!(
            frames(&path),
            [(1, 2), (3, 3), (6, 4)],
            "gap frame in the middle"
        );
        let copies: Vec<_> = fs::read_dir(dir.path().join(QUARANTINE_DIR))
            .unwrap()
            .map(|e| fs::read(e.unwrap().path()).unwrap())
            .collect();
        assert_eq!(copies, [bytes], "the segment as found is in quarantine");
        // Recovering again finds nothing new to quarantine.
        let again = recover(&path, "s").unwrap().unwrap();
        assert_eq!((again.records, again.lost), (6, 3));
        assert_eq!(
            fs::read_dir(dir.path().join(QUARANTINE_DIR))
                .unwrap()
                .count(),
            1
        );
    }

    #[test]
    fn a_corrupt_tail_of_a_sealed_segment_is_quarantined() {
        for later_segment in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let mut w = SegmentWriter::create(dir.path(), 1, 5, "a").unwrap();
            w.append(&batch(1).into_payload(1), 1).unwrap();
            w.append(&batch(2).into_payload(2), 2).unwrap();
            w.sync().unwrap();
            let path = w.info().path.clone();
            let len = w.info().bytes;
            drop(w);
            // Sealed: the next segment was opened, or the next sequence number recorded.
            match later_segment {
                true => drop(SegmentWriter::create(dir.path(), 4, 5, "a").unwrap()),
                false => next_seq::write(dir.path(), 4).unwrap(),
            }
            let mut bytes = fs::read(&path).unwrap();
            bytes[(len - 1) as usize] ^= 0xff;
            fs::write(&path, &bytes).unwrap();
            let info = recover(&path, "s").unwrap().unwrap();
            assert_eq!((info.records, info.lost, info.last_seq()), (1, 2, 3));
            assert_eq!(
                frames(&path),
                [(1, 1), (2, 2)],
                "a gap frame for the lost tail"
            );
            let copies = || {
                fs::read_dir(dir.path().join(QUARANTINE_DIR))
                    .unwrap()
                    .map(|e| fs::read(e.unwrap().path()).unwrap())
                    .collect::<Vec<_>>()
            };
            assert_eq!(
                copies(),
                [bytes.clone()],
                "the segment as found is in quarantine"
            );
            let again = recover(&path, "s").unwrap().unwrap();
            assert_eq!((again.records, again.lost), (1, 2));
            assert_eq!(copies().len(), 1, "nothing new to quarantine");
        }
    }

    #[test]
    fn junk_past_the_recorded_end_of_a_sealed_segment_is_a_torn_tail() {
        // A failed append whose part could not be cut, then the seal: the intact frames reach
        // the recorded next sequence number, so what follows was never acknowledged.
        let dir = tempfile::tempdir().unwrap();
        let mut w = SegmentWriter::create(dir.path(), 1, 5, "a").unwrap();
        w.append(&batch(2).into_payload(1), 2).unwrap();
        w.sync().unwrap();
        let path = w.info().path.clone();
        let whole = w.info().bytes;
        drop(w);
        next_seq::write(dir.path(), 3).unwrap();
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[9, 0, 0, 0, 1, 2]).unwrap();
        drop(f);
        let info = recover(&path, "s").unwrap().unwrap();
        assert_eq!((info.records, info.lost, info.bytes), (2, 0, whole));
        assert!(!dir.path().join(QUARANTINE_DIR).exists());
    }

    #[test]
    fn an_empty_segment_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let w = SegmentWriter::create(dir.path(), 1, 5, "a").unwrap();
        let path = w.info().path.clone();
        drop(w);
        assert_eq!(recover(&path, "s").unwrap(), None);
        assert!(!path.exists());
    }
}
