//! Encoder: writes FlowFile packages exactly as NiFi's `FlowFilePackagerV3`/`V2` do.

use crate::{MAGIC, Version};

/// NiFi writes a length in 2 bytes when it is below this value, else `FF FF` + 4 bytes.
const ESCAPE: u32 = 0xFFFF;

/// Appends one complete FlowFile (header and content) to `out`.
///
/// Attributes are written in the order given. NiFi refuses FlowFiles with zero attributes, so
/// pass at least one (typically `filename` or `uuid`).
///
/// # Panics
/// If there are 2^32 or more attributes, or a key or value is 4 GiB or longer (the format
/// cannot express it).
pub fn encode(
    version: Version,
    attributes: &[(impl AsRef<str>, impl AsRef<str>)],
    content: &[u8],
    out: &mut Vec<u8>,
) {
    out.reserve(header_len(version, attributes) + content.len());
    encode_header(version, attributes, content.len() as u64, out);
    out.extend_from_slice(content);
}

/// Appends only the header of one FlowFile (magic for v3, attributes, content length) to `out`;
/// the caller must then write exactly `content_len` content bytes after it.
///
/// # Panics
/// Same as [`encode`].
pub fn encode_header(
    version: Version,
    attributes: &[(impl AsRef<str>, impl AsRef<str>)],
    content_len: u64,
    out: &mut Vec<u8>,
) {
    out.reserve(header_len(version, attributes));
    if version == Version::V3 {
        out.extend_from_slice(MAGIC);
    }
    put_len(out, attributes.len());
    for (key, value) in attributes {
        put_str(out, key.as_ref());
        put_str(out, value.as_ref());
    }
    out.extend_from_slice(&content_len.to_be_bytes());
}

fn header_len(version: Version, attributes: &[(impl AsRef<str>, impl AsRef<str>)]) -> usize {
    let magic = if version == Version::V3 {
        MAGIC.len()
    } else {
        0
    };
    let strings: usize = attributes
        .iter()
        .map(|(k, v)| 12 + k.as_ref().len() + v.as_ref().len())
        .sum();
    magic + 6 + strings + 8
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_len(out, s.len());
    out.extend_from_slice(s.as_bytes());
}

fn put_len(out: &mut Vec<u8>, len: usize) {
    let len = u32::try_from(len).expect("a FlowFile field cannot be 4 GiB or longer");
    if len < ESCAPE {
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.extend_from_slice(&[0xFF, 0xFF]);
        out.extend_from_slice(&len.to_be_bytes());
    }
}
