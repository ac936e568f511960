//! FlowFile package codec.
//!
//! Apache NiFi moves FlowFiles between instances as "FlowFile packages": attributes
//! followed by content, many concatenated in one stream. This crate decodes (incrementally,
//! chunk by chunk) and encodes the v3 (`NiFiFF3`) and v2 formats. It does no I/O.
//!
//! Wire format (NiFi's `FlowFilePackagerV3`/`V2`; v2 is v3 without the magic), per FlowFile:
//!
//! ```text
//! [v3 only] "NiFiFF3"
//! attribute count                         length field
//! count × (key, value)                    length field + UTF-8 bytes, each
//! content length                          8 bytes, big-endian
//! content
//! ```
//!
//! A length field is 2 bytes big-endian when the value is below 65535, else `FF FF` followed by
//! the value in 4 bytes big-endian.
//!
//! ```
//! use flowfile::{decode_all, encode, Limits, Version};
//! let mut stream = Vec::new();
//! encode(Version::V3, &[("filename", "a.json")], b"{\"id\":1}", &mut stream);
//! let files = decode_all(Version::V3, &stream, Limits::default()).unwrap();
//! assert_eq!(files[0].attributes, [("filename".to_string(), "a.json".to_string())]);
//! assert_eq!(&files[0].content[..], b"{\"id\":1}");
//! ```

mod decode;
mod encode;
mod error;

use bytes::{Bytes, BytesMut};

pub use decode::{Decoder, Event, Header};
pub use encode::{encode, encode_header};
pub use error::{DecodeError, Part};

/// The v3 magic header that starts every v3 FlowFile.
pub const MAGIC: &[u8; 7] = b"NiFiFF3";

/// FlowFile package format version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// `application/flowfile-v3`: each FlowFile starts with `NiFiFF3`.
    V3,
    /// `application/flowfile-v2`: same layout without the magic header.
    V2,
}

impl Version {
    /// Recognises `application/flowfile-v3` / `-v2` (case-insensitive, parameters ignored).
    pub fn from_mime(mime: &str) -> Option<Version> {
        let essence = mime.split(';').next().unwrap_or("").trim();
        if essence.eq_ignore_ascii_case("application/flowfile-v3") {
            Some(Version::V3)
        } else if essence.eq_ignore_ascii_case("application/flowfile-v2") {
            Some(Version::V2)
        } else {
            None
        }
    }

    /// The MIME type NiFi uses for this version.
    pub fn mime(self) -> &'static str {
        match self {
            Version::V3 => "application/flowfile-v3",
            Version::V2 => "application/flowfile-v2",
        }
    }
}

/// Bounds a decoder enforces before buffering anything, so hostile input cannot make it
/// allocate much.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most attributes one FlowFile may declare.
    pub max_attributes: u32,
    /// Most bytes of attribute keys plus values, summed over one FlowFile.
    pub max_attribute_bytes: u32,
    /// Largest content length one FlowFile may declare.
    pub max_content_len: u64,
}

impl Default for Limits {
    /// 10 000 attributes, 1 MiB of attribute text, 64 GiB of content per FlowFile.
    fn default() -> Self {
        Limits {
            max_attributes: 10_000,
            max_attribute_bytes: 1 << 20,
            max_content_len: 64 << 30,
        }
    }
}

/// One whole FlowFile, as returned by [`decode_all`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowFile {
    /// Attributes in stream order.
    pub attributes: Vec<(String, String)>,
    /// The content bytes.
    pub content: Bytes,
}

/// Decodes a complete in-memory stream into its FlowFiles (convenience for small inputs and
/// tests; servers should drive a [`Decoder`] so content is not held in memory).
pub fn decode_all(
    version: Version,
    data: &[u8],
    limits: Limits,
) -> Result<Vec<FlowFile>, DecodeError> {
    let mut buf = BytesMut::from(data);
    let mut decoder = Decoder::new(version, limits);
    let mut files = Vec::new();
    let mut attributes = None;
    let mut pieces: Vec<Bytes> = Vec::new();
    while let Some(event) = decoder.decode(&mut buf)? {
        match event {
            Event::Header(header) => attributes = Some(header.attributes),
            Event::Content(piece) => pieces.push(piece),
            Event::End => {
                // With the whole input in one buffer, content arrives as one zero-copy piece.
                let content = match pieces.len() {
                    1 => pieces.pop().unwrap_or_default(),
                    _ => Bytes::from(std::mem::take(&mut pieces).concat()),
                };
                let attributes = attributes.take().unwrap_or_default();
                files.push(FlowFile {
                    attributes,
                    content,
                });
            }
        }
    }
    decoder.finish(&buf)?;
    Ok(files)
}

#[cfg(test)]
mod tests;
