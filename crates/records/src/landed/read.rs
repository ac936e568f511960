//! Reading landed data files: decompression by the file's name.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use super::Codec;

/// Buffer for streaming decompression.
const READ_BUFFER: usize = 1 << 20;

/// Why a landed data file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The name does not end `.ndjson.zst` or `.ndjson.gz`.
    #[error("{}: not a landed data file (*.ndjson.zst or *.ndjson.gz)", .path.display())]
    NotDataFile {
        /// The file.
        path: PathBuf,
    },
    /// The file could not be opened or read.
    #[error("read failed: {}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The content is not complete compressed UTF-8 text.
    #[error("{}: not a complete {codec} NDJSON file: {source}", .path.display())]
    Decompress {
        /// The file.
        path: PathBuf,
        /// Its codec.
        codec: Codec,
        /// The decoder's error.
        #[source]
        source: io::Error,
    },
}

/// An open landed data file, read once through its decompressor.
pub struct LandedFile {
    path: PathBuf,
    codec: Codec,
    stored_bytes: u64,
    decoder: Box<dyn Read + Send>,
}

impl std::fmt::Debug for LandedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LandedFile")
            .field("path", &self.path)
            .field("codec", &self.codec)
            .field("stored_bytes", &self.stored_bytes)
            .finish_non_exhaustive()
    }
}

/// Opens the landed data file at `path`, its codec told by its name (see
/// [`Codec::of_name`]).
pub fn open(path: &Path) -> Result<LandedFile, ReadError> {
    let codec = Codec::of_name(&path.to_string_lossy()).ok_or_else(|| ReadError::NotDataFile {
        path: path.to_owned(),
    })?;
    let io_error = |source| ReadError::Io {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(io_error)?;
    let stored_bytes = file.metadata().map_err(io_error)?.len();
    let buffered = BufReader::with_capacity(READ_BUFFER, file);
    let decoder: Box<dyn Read + Send> = match codec {
        Codec::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(buffered).map_err(
            |source| ReadError::Decompress {
                path: path.to_owned(),
                codec,
                source,
            },
        )?),
        Codec::Gzip => Box::new(flate2::read::MultiGzDecoder::new(buffered)),
    };
    Ok(LandedFile {
        path: path.to_owned(),
        codec,
        stored_bytes,
        decoder,
    })
}

impl LandedFile {
    /// The file's codec.
    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// Size of the stored (compressed) file in bytes.
    pub fn stored_bytes(&self) -> u64 {
        self.stored_bytes
    }

    /// The whole decompressed text (split it with [`super::lines`]).
    pub fn read_text(mut self) -> Result<String, ReadError> {
        let mut text = String::new();
        match self.decoder.read_to_string(&mut text) {
            Ok(_) => Ok(text),
            Err(source) => Err(self.decompress_error(source)),
        }
    }

    /// Counts the lines (`\n`) of the decompressed text without holding it in memory.
    pub fn count_lines(mut self) -> Result<u64, ReadError> {
        let mut buf = vec![0u8; READ_BUFFER];
        let mut lines = 0u64;
        loop {
            match self.decoder.read(&mut buf) {
                Ok(0) => return Ok(lines),
                Ok(n) => lines += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => return Err(self.decompress_error(source)),
            }
        }
    }

    fn decompress_error(self, source: io::Error) -> ReadError {
        ReadError::Decompress {
            path: self.path,
            codec: self.codec,
            source,
        }
    }
}
