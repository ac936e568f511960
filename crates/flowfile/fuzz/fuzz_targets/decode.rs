//! Feeds arbitrary bytes to the decoder, both versions, whole and in chunks whose sizes come
//! from the input, and checks that it never panics, agrees with itself across chunkings, and
//! never yields more content than a header declared.
#![no_main]

use bytes::BytesMut;
use flowfile::{DecodeError, Decoder, Event, Limits, Version};
use libfuzzer_sys::fuzz_target;

/// Decodes `data` in chunks; returns the events' summary (attributes, content) or the error.
fn run(version: Version, data: &[u8], chunk: usize, limits: Limits) -> Result<Vec<(Vec<(String, String)>, Vec<u8>)>, DecodeError> {
    let mut decoder = Decoder::new(version, limits);
    let mut buf = BytesMut::new();
    let mut files = Vec::new();
    let mut current: Option<(Vec<(String, String)>, u64, Vec<u8>)> = None;
    for piece in data.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        while let Some(event) = decoder.decode(&mut buf)? {
            match event {
                Event::Header(h) => {
                    assert!(current.is_none());
                    assert!(!h.attributes.is_empty());
                    assert!(h.content_len <= limits.max_content_len);
                    current = Some((h.attributes, h.content_len, Vec::new()));
                }
                Event::Content(bytes) => {
                    let (_, len, content) = current.as_mut().expect("content outside a FlowFile");
                    assert!(!bytes.is_empty());
                    content.extend_from_slice(&bytes);
                    assert!(content.len() as u64 <= *len);
                }
                Event::End => {
                    let (attributes, len, content) = current.take().expect("End outside a FlowFile");
                    assert_eq!(content.len() as u64, len);
                    files.push((attributes, content));
                }
            }
        }
    }
    decoder.finish(&buf)?;
    assert_eq!(decoder.flowfiles_decoded(), files.len() as u64);
    Ok(files)
}

fuzz_target!(|input: &[u8]| {
    let Some((&control, data)) = input.split_first() else {
        return;
    };
    let version = if control & 1 == 0 { Version::V3 } else { Version::V2 };
    let chunk = usize::from(control >> 1) + 1;
    let limits = Limits { max_attributes: 64, max_attribute_bytes: 4096, max_content_len: 1 << 20 };
    let whole = run(version, data, data.len(), limits);
    let chunked = run(version, data, chunk, limits);
    match (&whole, &chunked) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        // BadMagic shows as many bytes as were available, so compare kind and position only.
        (Err(a), Err(b)) => {
            assert_eq!(std::mem::discriminant(a), std::mem::discriminant(b), "{a} vs {b}");
            assert_eq!((a.offset(), a.flowfile_index()), (b.offset(), b.flowfile_index()), "{a} vs {b}");
        }
        _ => panic!("whole and chunked decoding disagree: {whole:?} vs {chunked:?}"),
    }
    // A successful decode re-encodes to the same bytes (the encoder is canonical, so this holds
    // unless the input used a non-canonical escaped length).
    if let Ok(files) = whole {
        let mut out = Vec::new();
        for (attributes, content) in &files {
            flowfile::encode(version, attributes, content, &mut out);
        }
        if out != data {
            assert!(out.len() < data.len(), "re-encoding grew the stream");
        }
    }
});
