//! Recovering a segment whose header is damaged: bad magic, torn, or a first_seq that
//! disagrees with the file name (`{first_seq:020}.seg`).
//!
//! The header is the one part of a segment without a checksum, but the frames after it are
//! checksummed one by one, so they are still found by scanning from the start of the file, and
//! the header is rebuilt from what is known ([`rebuild`]):
//! - first_seq from the file name;
//! - opened_at_ms and the instance id from the damaged header itself when its fields agree
//!   with the file name and with where the first intact frame starts (only the magic was hit):
//!   the batch then lands under the very key it would have had, so a batch landed before the
//!   crash (but not yet deleted from the spool) is recognised by the sink, not landed twice;
//! - else opened_at_ms from the first intact record's `received_at_ms` (payload bytes 8..16,
//!   little-endian) and no instance id (a `SNOWSEG1` header: the batch lands under the id of
//!   the run that lands it).
//!
//! The caller quarantines, counts and logs the segment ([`super::recover`]). With no intact
//! frame left, the segment is removed ([`discard`]): if it was sealed it held acknowledged
//! records, so that is an ERROR with the metric; otherwise a crash tore it while it was being
//! created (nothing in it was acknowledged), a WARN. Either way a non-empty file is copied to
//! quarantine first: it costs a few bytes, and the original is there for a human.

use std::fs;
use std::io;
use std::path::Path;

use super::{Frame, next_intact, quarantine, sealed_end};
use crate::config::valid_instance_id;
use crate::metric_names::SPOOL_CORRUPT_HEADERS_TOTAL;
use crate::spool::segment::{FIXED_HEADER_LEN, FRAME_HEADER_LEN, Header, SUFFIX, V1_HEADER_LEN};

/// Most milliseconds between a batch's opening and its first record's arrival for a damaged
/// header's opened_at_ms to be kept (further off, the field itself was hit).
const MAX_OPEN_DELAY_MS: u64 = 24 * 3600 * 1000;
/// Digits of a segment file name's first_seq.
const NAME_DIGITS: usize = 20;

/// The first sequence number in a segment's file name (`{first_seq:020}.seg`).
pub(super) fn seq_of_name(path: &Path) -> Option<u64> {
    let digits = path.file_name()?.to_str()?.strip_suffix(SUFFIX)?;
    if digits.len() != NAME_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The header at the start of `data` when it can be trusted: whole, of a known version, with
/// the first_seq of the file name (`named`) and a valid instance id.
pub(super) fn trusted(data: &[u8], named: Option<u64>) -> Option<Header> {
    Header::parse(data).filter(|h| {
        h.len as usize <= data.len()
            && named.is_none_or(|n| n == h.first_seq)
            && h.instance.as_deref().is_none_or(valid_instance_id)
    })
}

/// A header rebuilt for a segment whose own is damaged.
#[derive(Debug)]
pub(super) struct Rebuilt {
    /// The header recovery goes on with; its `len` is where the first intact frame starts in
    /// the damaged file.
    pub header: Header,
    /// The header bytes the segment is rewritten with.
    pub bytes: Vec<u8>,
    /// opened_at_ms and the instance id were kept from the damaged header.
    pub kept: bool,
}

impl Rebuilt {
    /// What the rebuilt header holds and where it came from, for the ERROR log.
    pub fn describe(&self) -> String {
        let h = &self.header;
        match self.kept {
            true => format!(
                "first_seq {} from the file name, opened_at_ms {} and instance id {:?} kept from the damaged header",
                h.first_seq, h.opened_at_ms, h.instance
            ),
            false => format!(
                "first_seq {} from the file name, opened_at_ms {} from the first intact record's arrival, no instance id (lands under this run's)",
                h.first_seq, h.opened_at_ms
            ),
        }
    }
}

/// Rebuilds the header of the damaged segment `data` (named for `named`); `None` when no
/// intact frame is left.
pub(super) fn rebuild(data: &[u8], named: Option<u64>) -> io::Result<Option<Rebuilt>> {
    let Some(first) = next_intact(data, 0, named.unwrap_or(0)) else {
        return Ok(None);
    };
    let first_seq = named.unwrap_or(first.first_seq);
    // Gap frames (left by an earlier recovery) hold no arrival time: the first with records.
    let mut with_records = Some(&first)
        .filter(|f| !f.gap)
        .map(|f| received_at_ms(data, f));
    let mut at = (first.end, first.first_seq + first.records);
    while with_records.is_none()
        && let Some(f) = next_intact(data, at.0, at.1)
    {
        with_records = (!f.gap).then(|| received_at_ms(data, &f));
        at = (f.end, f.first_seq + f.records);
    }
    let received_at = with_records.unwrap_or(0);
    let kept = old_fields(data, first_seq, first.start, received_at);
    let (opened_at_ms, instance) = kept.clone().unwrap_or((received_at, None));
    let bytes = Header::encode(first_seq, opened_at_ms, instance.as_deref())?;
    Ok(Some(Rebuilt {
        header: Header {
            first_seq,
            opened_at_ms,
            instance,
            len: first.start as u64,
        },
        bytes,
        kept: kept.is_some(),
    }))
}

/// When `frame` arrived (payload bytes 8..16).
fn received_at_ms(data: &[u8], frame: &Frame) -> i64 {
    let at = frame.start + FRAME_HEADER_LEN + 8;
    i64::from_le_bytes(data[at..at + 8].try_into().unwrap())
}

/// The damaged header's opened_at_ms and instance id, if its first_seq is `first_seq`, its
/// length (by the version its layout fits) is `frames_at`, where the first intact frame
/// starts, its instance id is valid and its opened_at_ms is near `received_at_ms`.
fn old_fields(
    data: &[u8],
    first_seq: u64,
    frames_at: usize,
    received_at_ms: i64,
) -> Option<(i64, Option<String>)> {
    if data.get(8..16)? != first_seq.to_le_bytes() {
        return None;
    }
    let opened_at_ms = i64::from_le_bytes(data.get(16..24)?.try_into().ok()?);
    if opened_at_ms.abs_diff(received_at_ms) > MAX_OPEN_DELAY_MS {
        return None;
    }
    if frames_at == V1_HEADER_LEN {
        return Some((opened_at_ms, None));
    }
    let id_len = usize::from(u16::from_le_bytes(data.get(24..26)?.try_into().ok()?));
    let id = std::str::from_utf8(data.get(FIXED_HEADER_LEN..frames_at)?).ok()?;
    (FIXED_HEADER_LEN + id_len == frames_at && valid_instance_id(id))
        .then(|| (opened_at_ms, Some(id.to_owned())))
}

/// Removes the damaged segment at `path` (of `stream`, named for `named`), which holds no
/// intact frame, after copying it to quarantine (unless empty); an ERROR and the metric if it
/// was sealed, else a WARN.
pub(super) fn discard(
    path: &Path,
    stream: &str,
    data: &[u8],
    named: Option<u64>,
) -> io::Result<()> {
    let sealed = match named {
        Some(seq) => sealed_end(path, seq)?.is_some(),
        None => false,
    };
    let copy = match data.is_empty() {
        true => None,
        false => Some(quarantine(path, data)?.display().to_string()),
    };
    if sealed {
        metrics::counter!(SPOOL_CORRUPT_HEADERS_TOTAL, "stream" => stream.to_owned()).increment(1);
        tracing::error!(%stream, segment = %path.display(), quarantined = ?copy, bytes = data.len(),
            "sealed spool segment has a damaged header and no intact frame (disk corruption: its acknowledged records are lost): copied it to quarantine and removed it");
    } else {
        tracing::warn!(%stream, segment = %path.display(), quarantined = ?copy, bytes = data.len(),
            "spool segment has a damaged header and no intact frame (torn by a crash while it was created: nothing in it was acknowledged): removed it");
    }
    fs::remove_file(path)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use records::Batch;

    use super::super::tests::frames;
    use super::super::{QUARANTINE_DIR, recover};
    use super::*;
    use crate::spool::next_seq;
    use crate::spool::segment::SegmentWriter;

    /// A durable segment of `batches` one-record frames from `first_seq`, cut by instance "a"
    /// and opened at `opened`; returns its path and bytes.
    fn segment(dir: &Path, first_seq: u64, batches: u64, opened: i64) -> (PathBuf, Vec<u8>) {
        let mut w = SegmentWriter::create(dir, first_seq, opened, "a").unwrap();
        for i in 0..batches {
            let mut b = Batch::new(chrono::DateTime::from_timestamp_millis(opened - 5).unwrap());
            b.push_record(format!(r#"{{"i":{i}}}"#).as_bytes());
            w.append(&b.into_payload(first_seq + i), 1).unwrap();
        }
        w.sync().unwrap();
        let path = w.info().path.clone();
        drop(w);
        let bytes = fs::read(&path).unwrap();
        (path, bytes)
    }

    fn quarantined(dir: &Path) -> Vec<Vec<u8>> {
        match fs::read_dir(dir.join(QUARANTINE_DIR)) {
            Ok(rd) => rd.map(|e| fs::read(e.unwrap().path()).unwrap()).collect(),
            Err(_) => Vec::new(),
        }
    }

    const OPENED: i64 = 1_700_000_000_000;

    #[test]
    fn names_give_first_seq() {
        assert_eq!(
            seq_of_name(Path::new("x/00000000000000000042.seg")),
            Some(42)
        );
        assert_eq!(seq_of_name(Path::new("x/42.seg")), None);
        assert_eq!(seq_of_name(Path::new("x/0000000000000000004x.seg")), None);
        assert_eq!(
            seq_of_name(Path::new("x/00000000000000000042.corrupt")),
            None
        );
    }

    #[test]
    fn a_flipped_magic_keeps_the_header_fields_and_every_frame() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut bytes) = segment(dir.path(), 7, 3, OPENED);
        bytes[0] ^= 0x01;
        fs::write(&path, &bytes).unwrap();
        let info = recover(&path, "s").unwrap().unwrap();
        assert_eq!((info.first_seq, info.records, info.lost), (7, 3, 0));
        assert_eq!(
            (info.opened_at_ms, info.instance.as_deref()),
            (OPENED, Some("a"))
        );
        assert_eq!(frames(&path), [(7, 1), (8, 1), (9, 1)]);
        assert_eq!(quarantined(dir.path()), [bytes], "the original is kept");
        // The header is good again: a second recovery finds nothing to quarantine.
        assert_eq!(recover(&path, "s").unwrap().unwrap().records, 3);
        assert_eq!(quarantined(dir.path()).len(), 1);
    }

    #[test]
    fn a_header_that_disagrees_with_the_file_name_is_rebuilt_from_the_frames() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut bytes) = segment(dir.path(), 7, 2, OPENED);
        // first_seq and opened_at_ms hit, the magic intact (the header still parses).
        bytes[8..24].fill(0xee);
        fs::write(&path, &bytes).unwrap();
        let info = recover(&path, "s").unwrap().unwrap();
        assert_eq!((info.first_seq, info.records, info.lost), (7, 2, 0));
        assert_eq!(info.opened_at_ms, OPENED - 5, "the first record's arrival");
        assert_eq!(info.instance, None, "a rebuilt id could be wrong: none");
        assert_eq!(frames(&path), [(7, 1), (8, 1)]);
        assert_eq!(quarantined(dir.path()), [bytes]);
        let again = recover(&path, "s").unwrap().unwrap();
        assert_eq!((again.opened_at_ms, again.instance), (OPENED - 5, None));
    }

    #[test]
    fn a_torn_header_of_the_open_segment_is_removed_with_a_copy() {
        let dir = tempfile::tempdir().unwrap();
        let (path, bytes) = segment(dir.path(), 7, 0, OPENED);
        fs::write(&path, &bytes[..10]).unwrap();
        assert_eq!(recover(&path, "s").unwrap(), None);
        assert!(!path.exists());
        assert_eq!(quarantined(dir.path()), [bytes[..10].to_vec()]);
    }

    #[test]
    fn a_sealed_segment_with_a_damaged_header_and_no_intact_frame_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut bytes) = segment(dir.path(), 7, 2, OPENED);
        next_seq::write(dir.path(), 9).unwrap();
        // The magic and both frames' records hit.
        bytes[0] ^= 0x01;
        bytes[FIXED_HEADER_LEN + 1 + 30] ^= 0x01;
        let last = bytes.len() - 1;
        bytes[last] ^= 0x01;
        fs::write(&path, &bytes).unwrap();
        assert_eq!(recover(&path, "s").unwrap(), None);
        assert!(!path.exists());
        assert_eq!(quarantined(dir.path()), [bytes]);
    }

    #[test]
    fn lost_leading_frames_are_a_gap() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut bytes) = segment(dir.path(), 7, 3, OPENED);
        // The header and the first frame's length field hit.
        bytes[0..30].fill(0);
        fs::write(&path, &bytes).unwrap();
        let info = recover(&path, "s").unwrap().unwrap();
        assert_eq!((info.first_seq, info.records, info.lost), (7, 2, 1));
        assert_eq!(frames(&path), [(7, 1), (8, 1), (9, 1)], "a gap frame for 7");
        assert_eq!(recover(&path, "s").unwrap().unwrap().lost, 1);
        assert_eq!(quarantined(dir.path()).len(), 1);
    }
}
