//! Decoding errors: each says what is wrong, at which byte of the stream and in which FlowFile.

use std::fmt;

/// Which part of a FlowFile package a problem was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The 7-byte `NiFiFF3` magic header (v3 only).
    Magic,
    /// The attribute count.
    AttributeCount,
    /// The length of attribute key number `n` (0-based).
    KeyLength(u32),
    /// The bytes of attribute key number `n` (0-based).
    Key(u32),
    /// The length of attribute value number `n` (0-based).
    ValueLength(u32),
    /// The bytes of attribute value number `n` (0-based).
    Value(u32),
    /// The 8-byte content length.
    ContentLength,
    /// The content bytes.
    Content,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Part::Magic => f.write_str("the NiFiFF3 magic header"),
            Part::AttributeCount => f.write_str("the attribute count"),
            Part::KeyLength(n) => write!(f, "the length of attribute key #{n}"),
            Part::Key(n) => write!(f, "attribute key #{n}"),
            Part::ValueLength(n) => write!(f, "the length of attribute value #{n}"),
            Part::Value(n) => write!(f, "attribute value #{n}"),
            Part::ContentLength => f.write_str("the content length"),
            Part::Content => f.write_str("the content"),
        }
    }
}

/// Why a FlowFile package stream was rejected.
///
/// `offset` is the 0-based byte position in the whole stream where the offending field starts;
/// `flowfile` is the 0-based index of the FlowFile in the stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    #[error(
        "not a FlowFile v3 package: FlowFile #{flowfile} at byte {offset} starts with {} instead of the magic header \"NiFiFF3\"",
        escape(found)
    )]
    BadMagic {
        offset: u64,
        flowfile: u64,
        found: Vec<u8>,
    },
    #[error(
        "FlowFile #{flowfile} at byte {offset} declares zero attributes; NiFi rejects FlowFiles without attributes"
    )]
    ZeroAttributes { offset: u64, flowfile: u64 },
    #[error(
        "FlowFile #{flowfile} at byte {offset} declares {count} attributes, over the limit of {limit}"
    )]
    TooManyAttributes {
        offset: u64,
        flowfile: u64,
        count: u32,
        limit: u32,
    },
    #[error(
        "FlowFile #{flowfile}: {part} at byte {offset} declares {len} bytes, which brings its attributes to {total} bytes, over the limit of {limit}"
    )]
    AttributesTooLarge {
        offset: u64,
        flowfile: u64,
        part: Part,
        len: u32,
        total: u64,
        limit: u32,
    },
    #[error(
        "FlowFile #{flowfile} at byte {offset} declares {len} bytes of content, over the limit of {limit}"
    )]
    ContentTooLarge {
        offset: u64,
        flowfile: u64,
        len: u64,
        limit: u64,
    },
    #[error(
        "FlowFile #{flowfile}: {part} at byte {offset} is not valid UTF-8 (first bad byte at {})",
        offset + *valid_up_to as u64
    )]
    InvalidUtf8 {
        offset: u64,
        flowfile: u64,
        part: Part,
        valid_up_to: usize,
    },
    #[error(
        "stream ended inside FlowFile #{flowfile}: {part} starting at byte {offset} is incomplete{}",
        missing_text(*missing)
    )]
    Truncated {
        offset: u64,
        flowfile: u64,
        part: Part,
        /// How many more bytes the field needed, when known.
        missing: Option<u64>,
    },
    #[error(
        "{len} stray bytes at byte {offset} after {flowfiles} complete FlowFile(s): a partial FlowFile or trailing garbage"
    )]
    TrailingData {
        offset: u64,
        len: u64,
        /// Number of complete FlowFiles before the stray bytes.
        flowfiles: u64,
    },
}

fn missing_text(missing: Option<u64>) -> String {
    match missing {
        Some(1) => " (1 more byte expected)".to_owned(),
        Some(n) => format!(" ({n} more bytes expected)"),
        None => String::new(),
    }
}

fn escape(bytes: &[u8]) -> String {
    format!("\"{}\"", bytes.escape_ascii())
}

impl DecodeError {
    /// Byte offset in the stream of the field the error is about.
    pub fn offset(&self) -> u64 {
        match self {
            DecodeError::BadMagic { offset, .. }
            | DecodeError::ZeroAttributes { offset, .. }
            | DecodeError::TooManyAttributes { offset, .. }
            | DecodeError::AttributesTooLarge { offset, .. }
            | DecodeError::ContentTooLarge { offset, .. }
            | DecodeError::InvalidUtf8 { offset, .. }
            | DecodeError::Truncated { offset, .. }
            | DecodeError::TrailingData { offset, .. } => *offset,
        }
    }

    /// 0-based index of the FlowFile the error is in (for trailing data: the count of complete
    /// FlowFiles before it, i.e. the index the next FlowFile would have had).
    pub fn flowfile_index(&self) -> u64 {
        match self {
            DecodeError::BadMagic { flowfile, .. }
            | DecodeError::ZeroAttributes { flowfile, .. }
            | DecodeError::TooManyAttributes { flowfile, .. }
            | DecodeError::AttributesTooLarge { flowfile, .. }
            | DecodeError::ContentTooLarge { flowfile, .. }
            | DecodeError::InvalidUtf8 { flowfile, .. }
            | DecodeError::Truncated { flowfile, .. } => *flowfile,
            DecodeError::TrailingData { flowfiles, .. } => *flowfiles,
        }
    }
}
