//! Incremental decoder: turns a byte stream, fed in chunks of any size, into FlowFile events.

use bytes::{Buf, Bytes, BytesMut};

use crate::error::{DecodeError, Part};
use crate::{Limits, MAGIC, Version};

/// The attributes and content length of one FlowFile, yielded before its content.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Header {
    /// Attributes in stream order. Duplicate keys are kept as sent (NiFi keeps the last one).
    pub attributes: Vec<(String, String)>,
    /// Number of content bytes that follow.
    pub content_len: u64,
}

impl Header {
    /// The value of attribute `key`; with duplicate keys the last wins, as in NiFi.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// What [`Decoder::decode`] found next in the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A FlowFile starts: its attributes and content length.
    Header(Header),
    /// The next piece of the current FlowFile's content (never empty).
    Content(Bytes),
    /// The current FlowFile is complete.
    End,
}

#[derive(Debug)]
enum State {
    /// Between FlowFiles: expecting the magic (v3) or the attribute count (v2).
    Boundary,
    /// v3 only: magic read, expecting the attribute count.
    Count,
    KeyLen,
    Key(u32),
    ValueLen,
    Value(u32),
    ContentLen,
    Content(u64),
    Failed(DecodeError),
}

/// Streaming FlowFile package decoder.
///
/// Append incoming bytes to a `BytesMut` and call [`decode`](Self::decode) until it returns
/// `Ok(None)` (needs more input); at end of input call [`finish`](Self::finish). Content is handed
/// out as zero-copy slices of the input buffer, never accumulated. Attribute strings are
/// buffered until complete, bounded by [`Limits`]; lengths are checked against the limits
/// before waiting for the bytes, so an absurd declared length never leads to a large buffer.
/// After an error every further call returns the same error.
#[derive(Debug)]
pub struct Decoder {
    version: Version,
    limits: Limits,
    state: State,
    /// Bytes consumed from the stream so far: the offset of the next unread byte.
    offset: u64,
    flowfiles: u64,
    /// Stream offset where the current FlowFile's content starts.
    content_start: u64,
    attr_count: u32,
    attr_index: u32,
    attr_bytes: u64,
    attributes: Vec<(String, String)>,
    key: String,
}

impl Decoder {
    /// A decoder for a stream of `version` packages, refusing anything beyond `limits`.
    pub fn new(version: Version, limits: Limits) -> Self {
        Decoder {
            version,
            limits,
            state: State::Boundary,
            offset: 0,
            flowfiles: 0,
            content_start: 0,
            attr_count: 0,
            attr_index: 0,
            attr_bytes: 0,
            attributes: Vec::new(),
            key: String::new(),
        }
    }

    /// The package version this decoder reads.
    pub fn version(&self) -> Version {
        self.version
    }

    /// Number of FlowFiles completely decoded (whose [`Event::End`] was returned).
    pub fn flowfiles_decoded(&self) -> u64 {
        self.flowfiles
    }

    /// Total bytes consumed from the stream so far.
    pub fn bytes_consumed(&self) -> u64 {
        self.offset
    }

    /// Consumes bytes from the front of `buf` and returns the next event, or `Ok(None)` when
    /// more input is needed (bytes of an incomplete field are left in `buf`).
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Event>, DecodeError> {
        if let State::Failed(e) = &self.state {
            return Err(e.clone());
        }
        let result = self.step(buf);
        if let Err(e) = &result {
            self.state = State::Failed(e.clone());
        }
        result
    }

    /// Checks, at end of input, that the stream stopped at a FlowFile boundary; `buf` holds
    /// what `decode` left unconsumed (call `decode` until it returns `Ok(None)` first). An empty
    /// stream is valid (zero FlowFiles). Errors name the incomplete field and, when known, how
    /// many bytes it still needed; leftover bytes at a boundary are [`DecodeError::TrailingData`].
    pub fn finish(&self, buf: &BytesMut) -> Result<(), DecodeError> {
        let have = buf.len() as u64;
        let truncated = |part: Part, missing: Option<u64>| DecodeError::Truncated {
            offset: self.offset,
            flowfile: self.flowfiles,
            part,
            missing,
        };
        let field_missing = || {
            let need = if buf.len() >= 2 && buf[..2] == [0xFF, 0xFF] {
                6
            } else {
                2
            };
            Some(need - have)
        };
        match &self.state {
            State::Failed(e) => Err(e.clone()),
            State::Boundary | State::Content(0) if have == 0 => Ok(()),
            State::Boundary | State::Content(0) => Err(DecodeError::TrailingData {
                offset: self.offset,
                len: have,
                flowfiles: self.flowfiles + u64::from(matches!(self.state, State::Content(0))),
            }),
            State::Count => Err(truncated(Part::AttributeCount, field_missing())),
            State::KeyLen => Err(truncated(Part::KeyLength(self.attr_index), field_missing())),
            State::ValueLen => Err(truncated(
                Part::ValueLength(self.attr_index),
                field_missing(),
            )),
            State::Key(len) => Err(truncated(
                Part::Key(self.attr_index),
                Some(u64::from(*len).saturating_sub(have)),
            )),
            State::Value(len) => Err(truncated(
                Part::Value(self.attr_index),
                Some(u64::from(*len).saturating_sub(have)),
            )),
            State::ContentLen => Err(truncated(
                Part::ContentLength,
                Some(8u64.saturating_sub(have)),
            )),
            State::Content(remaining) => Err(DecodeError::Truncated {
                offset: self.content_start,
                flowfile: self.flowfiles,
                part: Part::Content,
                missing: Some(remaining.saturating_sub(have)),
            }),
        }
    }

    fn step(&mut self, buf: &mut BytesMut) -> Result<Option<Event>, DecodeError> {
        loop {
            match self.state {
                State::Boundary => {
                    if self.version == Version::V3 {
                        let n = buf.len().min(MAGIC.len());
                        if buf[..n] != MAGIC[..n] {
                            return Err(DecodeError::BadMagic {
                                offset: self.offset,
                                flowfile: self.flowfiles,
                                found: buf[..n].to_vec(),
                            });
                        }
                        if n < MAGIC.len() {
                            return Ok(None);
                        }
                        self.consume(buf, MAGIC.len());
                        self.state = State::Count;
                    } else if !self.read_count(buf)? {
                        return Ok(None);
                    }
                }
                State::Count => {
                    if !self.read_count(buf)? {
                        return Ok(None);
                    }
                }
                State::KeyLen => {
                    match self.read_string_len(buf, Part::KeyLength(self.attr_index))? {
                        Some(len) => self.state = State::Key(len),
                        None => return Ok(None),
                    }
                }
                State::ValueLen => {
                    match self.read_string_len(buf, Part::ValueLength(self.attr_index))? {
                        Some(len) => self.state = State::Value(len),
                        None => return Ok(None),
                    }
                }
                State::Key(len) => match self.read_string(buf, len, Part::Key(self.attr_index))? {
                    Some(key) => {
                        self.key = key;
                        self.state = State::ValueLen;
                    }
                    None => return Ok(None),
                },
                State::Value(len) => {
                    match self.read_string(buf, len, Part::Value(self.attr_index))? {
                        Some(value) => {
                            let key = std::mem::take(&mut self.key);
                            self.attributes.push((key, value));
                            self.attr_index += 1;
                            self.state = if self.attr_index == self.attr_count {
                                State::ContentLen
                            } else {
                                State::KeyLen
                            };
                        }
                        None => return Ok(None),
                    }
                }
                State::ContentLen => {
                    let Some(field) = buf.first_chunk::<8>() else {
                        return Ok(None);
                    };
                    let content_len = u64::from_be_bytes(*field);
                    if content_len > self.limits.max_content_len {
                        return Err(DecodeError::ContentTooLarge {
                            offset: self.offset,
                            flowfile: self.flowfiles,
                            len: content_len,
                            limit: self.limits.max_content_len,
                        });
                    }
                    self.consume(buf, 8);
                    self.content_start = self.offset;
                    self.state = State::Content(content_len);
                    let attributes = std::mem::take(&mut self.attributes);
                    return Ok(Some(Event::Header(Header {
                        attributes,
                        content_len,
                    })));
                }
                State::Content(0) => {
                    self.state = State::Boundary;
                    self.flowfiles += 1;
                    return Ok(Some(Event::End));
                }
                State::Content(remaining) => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    // Never truncates: the minimum is at most `buf.len()`, a usize.
                    let n = remaining.min(buf.len() as u64) as usize;
                    let piece = buf.split_to(n).freeze();
                    self.offset += n as u64;
                    self.state = State::Content(remaining - n as u64);
                    return Ok(Some(Event::Content(piece)));
                }
                State::Failed(ref e) => return Err(e.clone()),
            }
        }
    }

    fn consume(&mut self, buf: &mut BytesMut, n: usize) {
        buf.advance(n);
        self.offset += n as u64;
    }

    /// Reads the attribute count; `Ok(false)` if it is not complete yet.
    fn read_count(&mut self, buf: &mut BytesMut) -> Result<bool, DecodeError> {
        let Some((count, width)) = peek_len(buf) else {
            return Ok(false);
        };
        if count == 0 {
            return Err(DecodeError::ZeroAttributes {
                offset: self.offset,
                flowfile: self.flowfiles,
            });
        }
        if count > self.limits.max_attributes {
            return Err(DecodeError::TooManyAttributes {
                offset: self.offset,
                flowfile: self.flowfiles,
                count,
                limit: self.limits.max_attributes,
            });
        }
        self.consume(buf, width);
        self.attr_count = count;
        self.attr_index = 0;
        self.attr_bytes = 0;
        self.attributes = Vec::with_capacity(count.min(64) as usize);
        self.state = State::KeyLen;
        Ok(true)
    }

    /// Reads a key or value length and checks it against the attribute budget.
    fn read_string_len(
        &mut self,
        buf: &mut BytesMut,
        part: Part,
    ) -> Result<Option<u32>, DecodeError> {
        let Some((len, width)) = peek_len(buf) else {
            return Ok(None);
        };
        let total = self.attr_bytes + u64::from(len);
        if total > u64::from(self.limits.max_attribute_bytes) {
            return Err(DecodeError::AttributesTooLarge {
                offset: self.offset,
                flowfile: self.flowfiles,
                part,
                len,
                total,
                limit: self.limits.max_attribute_bytes,
            });
        }
        self.attr_bytes = total;
        self.consume(buf, width);
        Ok(Some(len))
    }

    fn read_string(
        &mut self,
        buf: &mut BytesMut,
        len: u32,
        part: Part,
    ) -> Result<Option<String>, DecodeError> {
        let len = len as usize; // bounded by max_attribute_bytes (u32) above
        if buf.len() < len {
            return Ok(None);
        }
        let s = match std::str::from_utf8(&buf[..len]) {
            Ok(s) => s.to_owned(),
            Err(e) => {
                return Err(DecodeError::InvalidUtf8 {
                    offset: self.offset,
                    flowfile: self.flowfiles,
                    part,
                    valid_up_to: e.valid_up_to(),
                });
            }
        };
        self.consume(buf, len);
        Ok(Some(s))
    }
}

/// A length field: 2 bytes big-endian, or `FF FF` then 4 bytes big-endian. Returns the value
/// and the field's width, or `None` if `buf` does not hold the whole field yet.
fn peek_len(buf: &[u8]) -> Option<(u32, usize)> {
    match buf {
        [0xFF, 0xFF, a, b, c, d, ..] => Some((u32::from_be_bytes([*a, *b, *c, *d]), 6)),
        [0xFF, 0xFF, ..] => None,
        [a, b, ..] => Some((u32::from(u16::from_be_bytes([*a, *b])), 2)),
        _ => None,
    }
}
