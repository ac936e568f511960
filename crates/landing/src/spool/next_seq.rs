//! The `next_seq` file of a stream's spool folder: the sequence number the next record gets,
//! written whenever a segment is sealed and read on start, so that no landed key is reused
//! even when every segment has landed and been deleted.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::spool::segment::sync_dir;

/// Name of the temp file a crash may leave behind (removed on start).
pub(crate) const TEMP_FILE_NAME: &str = "next_seq.tmp";

fn path(dir: &Path) -> PathBuf {
    dir.join("next_seq")
}

/// Persists the next sequence number (temp file + rename + directory fsync).
///
/// Failpoint `spool-next-seq`: `return` fails it with ENOSPC, `return(eio)` with EIO.
pub(crate) fn write(dir: &Path, next_seq: u64) -> io::Result<()> {
    fail::fail_point!("spool-next-seq", |arg| Err(
        crate::error::injected_io_error(arg)
    ));
    let tmp = dir.join(TEMP_FILE_NAME);
    fs::write(&tmp, next_seq.to_string())?;
    fs::File::open(&tmp)?.sync_all()?;
    fs::rename(&tmp, path(dir))?;
    sync_dir(dir)
}

/// The recorded next sequence number, or `None` for a stream that never sealed a segment.
pub(crate) fn read(dir: &Path) -> io::Result<Option<u64>> {
    match fs::read_to_string(path(dir)) {
        Ok(s) => s.trim().parse().map(Some).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad next_seq file: {e}"),
            )
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path()).unwrap(), None);
        write(dir.path(), 42).unwrap();
        write(dir.path(), 1_000_001).unwrap();
        assert_eq!(read(dir.path()).unwrap(), Some(1_000_001));
        assert!(!dir.path().join(TEMP_FILE_NAME).exists());
    }

    #[test]
    fn garbage_is_invalid_data() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(path(dir.path()), "12x").unwrap();
        let err = read(dir.path()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("bad next_seq file"), "{err}");
    }
}
