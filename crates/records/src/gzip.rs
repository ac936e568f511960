//! The one capped gunzip every front door uses, streaming ([`Gunzip`]) or on a whole buffer
//! ([`gunzip`]).
//!
//! A small gzip body can inflate to gigabytes. The decoder is fed small slices of compressed
//! input and the inflated size is checked after each one, so a bomb is stopped within about
//! a megabyte of the limit instead of after it has filled memory.

use std::io::Write;

use flate2::write::MultiGzDecoder;

/// Compressed bytes fed to the decoder at a time. Deflate inflates at most ~1032:1, so each
/// slice yields at most about 1 MiB.
const SLICE: usize = 1024;

/// Why gzip content could not be inflated.
#[derive(Debug, thiserror::Error)]
pub enum GunzipError {
    /// Not a gzip stream, a corrupt one, or one cut short.
    #[error("not valid gzip: {0}")]
    Corrupt(std::io::Error),
    /// Inflates to more than the limit.
    #[error("over the {limit}-byte limit after decompression")]
    TooLarge {
        /// The largest inflated size allowed, in bytes.
        limit: u64,
    },
}

/// A streaming gzip decoder (one or more concatenated members) with a cap on the inflated
/// size. Feed it with [`Gunzip::write`] as compressed bytes arrive, then [`Gunzip::finish`].
pub struct Gunzip {
    decoder: MultiGzDecoder<Vec<u8>>,
    limit: u64,
    inflated: u64,
}

impl Gunzip {
    /// A decoder that refuses to inflate past `limit` bytes.
    pub fn new(limit: u64) -> Self {
        Gunzip {
            decoder: MultiGzDecoder::new(Vec::new()),
            limit,
            inflated: 0,
        }
    }

    /// Inflates `compressed`, handing the output to `sink` piece by piece (each piece at
    /// most about 1 MiB). Stops at the first error, the sink's own included.
    pub fn write<E: From<GunzipError>>(
        &mut self,
        compressed: &[u8],
        sink: &mut impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        for slice in compressed.chunks(SLICE) {
            self.decoder
                .write_all(slice)
                .map_err(GunzipError::Corrupt)?;
            self.drain(sink)?;
        }
        Ok(())
    }

    /// Checks that the stream ended properly and hands over the last output. Returns the
    /// inflated size in bytes. No input at all is not a gzip stream (an error).
    pub fn finish<E: From<GunzipError>>(
        mut self,
        sink: &mut impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<u64, E> {
        self.decoder.try_finish().map_err(GunzipError::Corrupt)?;
        self.drain(sink)?;
        Ok(self.inflated)
    }

    /// Bytes inflated so far.
    pub fn inflated(&self) -> u64 {
        self.inflated
    }

    fn drain<E: From<GunzipError>>(
        &mut self,
        sink: &mut impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let out = std::mem::take(self.decoder.get_mut());
        self.inflated += out.len() as u64;
        if self.inflated > self.limit {
            return Err(GunzipError::TooLarge { limit: self.limit }.into());
        }
        if !out.is_empty() {
            sink(&out)?;
        }
        // Hand the allocation back to the decoder for the next slice.
        *self.decoder.get_mut() = out;
        self.decoder.get_mut().clear();
        Ok(())
    }
}

/// Inflates a whole gzip buffer (one or more members) of at most `limit` inflated bytes.
pub fn gunzip(compressed: &[u8], limit: u64) -> Result<Vec<u8>, GunzipError> {
    let mut out = Vec::new();
    let mut gz = Gunzip::new(limit);
    let mut append = |piece: &[u8]| -> Result<(), GunzipError> {
        out.extend_from_slice(piece);
        Ok(())
    };
    gz.write(compressed, &mut append)?;
    gz.finish(&mut append)?;
    Ok(out)
}
