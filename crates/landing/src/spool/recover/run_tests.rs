//! Recovery of segments holding runs (one append's frames, [`crate::spool::segment::CONTINUES`]):
//! an unfinished run is cut like a torn tail, never reported as corruption; a finished one is
//! kept, and its continuation bits survive a quarantine rewrite.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use records::Batch;

use super::{QUARANTINE_DIR, recover};
use crate::spool::next_seq;
use crate::spool::segment::{FRAME_HEADER_LEN, SegmentWriter, frame_heads};

fn payload(first_seq: u64, n: u64) -> Vec<u8> {
    let mut b = Batch::new(chrono::Utc::now());
    for i in 0..n {
        b.push_record(format!(r#"{{"seq":{}}}"#, first_seq + i).as_bytes());
    }
    b.into_payload(first_seq)
}

/// A segment from seq 1, synced: one single frame of 2 records (1-2), then a run of three
/// frames of 3, 2 and 4 records (3-11). Returns its path and where each frame ends.
fn segment_with_a_run(dir: &Path) -> (PathBuf, [u64; 4]) {
    let mut w = SegmentWriter::create(dir, 1, 5, "a").unwrap();
    w.append(&payload(1, 2), 2).unwrap();
    let mut ends = [w.info().bytes; 4];
    w.append_run(|run| -> std::io::Result<()> {
        for (i, (seq, n)) in [(3, 3), (6, 2), (8, 4)].into_iter().enumerate() {
            let p = payload(seq, n);
            run.frame(&p, n, i < 2)?;
            ends[i + 1] = ends[i] + (FRAME_HEADER_LEN + p.len()) as u64;
        }
        Ok(())
    })
    .unwrap();
    w.sync().unwrap();
    assert_eq!(ends[3], w.info().bytes);
    (w.info().path.clone(), ends)
}

fn cut_at(path: &Path, len: u64) {
    let f = fs::OpenOptions::new().write(true).open(path).unwrap();
    f.set_len(len).unwrap();
}

fn quarantined(dir: &Path) -> usize {
    fs::read_dir(dir.join(QUARANTINE_DIR)).map_or(0, |d| d.count())
}

#[test]
fn a_finished_run_is_kept_with_its_bits() {
    let dir = tempfile::tempdir().unwrap();
    let (path, ends) = segment_with_a_run(dir.path());
    let info = recover(&path, "s").unwrap().unwrap();
    assert_eq!((info.records, info.lost, info.bytes), (11, 0, ends[3]));
    assert_eq!(
        frame_heads(&path),
        [(false, 1, 2), (true, 3, 3), (true, 6, 2), (false, 8, 4)]
    );
}

#[test]
fn a_crash_before_the_last_frame_of_a_run_cuts_the_whole_run() {
    let dir = tempfile::tempdir().unwrap();
    let (path, ends) = segment_with_a_run(dir.path());
    // As a crash left it: the single frame and the first two frames of the run, no more.
    cut_at(&path, ends[2]);
    let info = recover(&path, "s").unwrap().unwrap();
    assert_eq!((info.records, info.lost, info.last_seq()), (2, 0, 2));
    assert_eq!(info.bytes, ends[0]);
    assert_eq!(frame_heads(&path), [(false, 1, 2)], "the run is cut off");
    assert_eq!(fs::metadata(&path).unwrap().len(), ends[0]);
    assert_eq!(quarantined(dir.path()), 0, "not corruption");
    let opened = crate::spool::open(dir.path(), "s", |_| false).unwrap();
    assert_eq!(
        opened.next_seq, 3,
        "the run's sequence numbers are free again"
    );
    assert_eq!(opened.segments.len(), 1);
}

#[test]
fn a_run_whose_last_frame_is_torn_is_cut_whole() {
    let dir = tempfile::tempdir().unwrap();
    let (path, ends) = segment_with_a_run(dir.path());
    cut_at(&path, ends[3] - 3);
    let info = recover(&path, "s").unwrap().unwrap();
    assert_eq!((info.records, info.lost, info.bytes), (2, 0, ends[0]));
    assert_eq!(frame_heads(&path), [(false, 1, 2)]);
    assert_eq!(quarantined(dir.path()), 0);
    let opened = crate::spool::open(dir.path(), "s", |_| false).unwrap();
    assert_eq!(opened.next_seq, 3);
}

#[test]
fn a_segment_holding_only_an_unfinished_run_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = SegmentWriter::create(dir.path(), 4, 5, "a").unwrap();
    let first = payload(4, 3);
    w.append_run(|run| -> std::io::Result<()> {
        run.frame(&first, 3, true)?;
        run.frame(&payload(7, 1), 1, false)
    })
    .unwrap();
    let path = w.info().path.clone();
    drop(w);
    cut_at(&path, fs::metadata(&path).unwrap().len() - 1);
    assert_eq!(recover(&path, "s").unwrap(), None);
    assert!(!path.exists());
}

#[test]
fn an_unfinished_run_past_a_sealed_segments_end_is_cut_not_quarantined() {
    // A run that failed part-way and whose cut failed too, then the seal: the recorded next
    // sequence number is where the run started, so its frames were never acknowledged.
    let dir = tempfile::tempdir().unwrap();
    let (path, ends) = segment_with_a_run(dir.path());
    cut_at(&path, ends[2]);
    next_seq::write(dir.path(), 3).unwrap();
    let info = recover(&path, "s").unwrap().unwrap();
    assert_eq!((info.records, info.lost, info.bytes), (2, 0, ends[0]));
    assert_eq!(quarantined(dir.path()), 0);
}

#[test]
fn a_sealed_segment_whose_finished_run_lost_its_last_frame_is_corrupt() {
    // Sealed at 12: the run was finished and acknowledged, and its last frame is damaged.
    // Its intact frames land; the lost records are a gap, the segment is quarantined.
    let dir = tempfile::tempdir().unwrap();
    let (path, ends) = segment_with_a_run(dir.path());
    next_seq::write(dir.path(), 12).unwrap();
    let mut bytes = fs::read(&path).unwrap();
    bytes[ends[3] as usize - 1] ^= 0xff;
    fs::write(&path, &bytes).unwrap();
    let info = recover(&path, "s").unwrap().unwrap();
    assert_eq!((info.records, info.lost, info.last_seq()), (7, 4, 11));
    assert_eq!(
        frame_heads(&path),
        [(false, 1, 2), (true, 3, 3), (true, 6, 2), (false, 8, 4)],
        "its intact frames with their bits, then a gap frame for the lost one"
    );
    assert_eq!(quarantined(dir.path()), 1);
    let again = recover(&path, "s").unwrap().unwrap();
    assert_eq!((again.records, again.lost), (7, 4));
    assert_eq!(quarantined(dir.path()), 1, "nothing new to quarantine");
}

#[test]
fn a_quarantine_rewrite_keeps_the_bits_of_a_run() {
    // The run's middle frame is damaged and an intact frame follows: corruption. The rewrite
    // copies the run's other frames as they were, bits included.
    let dir = tempfile::tempdir().unwrap();
    let (path, ends) = segment_with_a_run(dir.path());
    let mut f = fs::OpenOptions::new().append(true).open(&path).unwrap();
    let after = payload(12, 1);
    f.write_all(&(after.len() as u32).to_le_bytes()).unwrap();
    f.write_all(&crc32c::crc32c(&after).to_le_bytes()).unwrap();
    f.write_all(&after).unwrap();
    drop(f);
    let mut bytes = fs::read(&path).unwrap();
    bytes[ends[2] as usize - 1] ^= 0xff;
    fs::write(&path, &bytes).unwrap();
    let info = recover(&path, "s").unwrap().unwrap();
    assert_eq!((info.records, info.lost, info.last_seq()), (10, 2, 12));
    assert_eq!(
        frame_heads(&path),
        [
            (false, 1, 2),
            (true, 3, 3),
            (false, 6, 2),
            (false, 8, 4),
            (false, 12, 1)
        ],
        "the first frame of the run keeps its bit; the gap frame has none"
    );
    assert_eq!(quarantined(dir.path()), 1);
}
