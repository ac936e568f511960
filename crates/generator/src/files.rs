//! Folder target: one file per batch (CSV like the seed notebook by default), named so
//! that name order is delivery order, written atomically for NiFi's ListFile/GetFile.

use std::fs;
use std::path::{Path, PathBuf};

use crate::GenError;
use crate::encode::{Format, encode_batch_with};
use crate::record::{Customer, EventTime};

/// Writes batches into a folder as `{prefix}_{YYYYMMDDTHHMMSSmmmZ}_{batch:06}.{ext}`.
///
/// The timestamp is the newest event time delivered so far (it never goes backwards) and
/// the batch number breaks ties, so sorting names gives delivery order (contract 3 breaks
/// ties by file name). Each file is written as a hidden `.name.tmp` then renamed, so a
/// listing never sees half a file (ListFile and GetFile skip hidden files by default).
pub struct FileWriter {
    dir: PathBuf,
    format: Format,
    prefix: String,
    attributes: Vec<(String, String)>,
    batches: u64,
    newest: Option<EventTime>,
}

impl FileWriter {
    /// Creates `dir` if needed.
    pub fn new(dir: impl Into<PathBuf>, format: Format) -> Result<Self, GenError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|e| GenError::io(&dir, e))?;
        Ok(FileWriter {
            dir,
            format,
            prefix: "customers".into(),
            attributes: Vec::new(),
            batches: 0,
            newest: None,
        })
    }

    /// File name prefix (default `customers`).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// FlowFile attributes for the `flowfile-v3` format.
    pub fn attributes(mut self, attributes: Vec<(String, String)>) -> Self {
        self.attributes = attributes;
        self
    }

    /// Writes one batch and returns its path.
    pub fn write_batch(&mut self, records: &[Customer]) -> Result<PathBuf, GenError> {
        self.batches += 1;
        let newest_here = records.iter().map(|r| r.updated_at).max();
        self.newest = self.newest.max(newest_here);
        let stamp = self
            .newest
            .map(|t| t.to_datetime().format("%Y%m%dT%H%M%S%3fZ").to_string())
            .unwrap_or_else(|| "empty".into());
        let name = format!(
            "{}_{}_{:06}.{}",
            self.prefix,
            stamp,
            self.batches,
            self.format.extension()
        );
        let (bytes, _) = encode_batch_with(records, self.format, &self.attributes);
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let path = self.dir.join(name);
        fs::write(&tmp, bytes).map_err(|e| GenError::io(&tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| GenError::io(&path, e))?;
        Ok(path)
    }
}

/// Writes `records` into `dir` in batches of `batch_size`; returns the paths in order.
pub fn write_files(
    dir: &Path,
    records: &[Customer],
    batch_size: usize,
    format: Format,
) -> Result<Vec<PathBuf>, GenError> {
    let mut w = FileWriter::new(dir, format)?;
    records
        .chunks(batch_size.max(1))
        .map(|batch| w.write_batch(batch))
        .collect()
}
