//! Helpers shared by the integration tests.

use bytes::BytesMut;
use flowfile::{DecodeError, Decoder, Event, FlowFile, Header, Limits, Version};

/// Decodes `data` fed in chunks whose sizes cycle through `sizes`, checking the event
/// protocol along the way (Header, non-empty Content pieces adding up to content_len, End).
pub fn decode_chunked(
    version: Version,
    data: &[u8],
    sizes: &[usize],
) -> Result<Vec<FlowFile>, DecodeError> {
    assert!(sizes.iter().all(|&s| s > 0));
    let mut decoder = Decoder::new(version, Limits::default());
    let mut buf = BytesMut::new();
    let mut files = Vec::new();
    let mut current: Option<(Header, Vec<u8>)> = None;
    let mut pos = 0;
    let mut turn = 0;
    loop {
        while let Some(event) = decoder.decode(&mut buf)? {
            match event {
                Event::Header(h) => {
                    assert!(current.is_none(), "Header before End");
                    current = Some((h, Vec::new()));
                }
                Event::Content(piece) => {
                    let (header, content) = current.as_mut().expect("Content outside a FlowFile");
                    assert!(!piece.is_empty(), "empty Content event");
                    content.extend_from_slice(&piece);
                    assert!(
                        content.len() as u64 <= header.content_len,
                        "more content than declared"
                    );
                }
                Event::End => {
                    let (header, content) = current.take().expect("End outside a FlowFile");
                    assert_eq!(content.len() as u64, header.content_len, "End too early");
                    files.push(FlowFile {
                        attributes: header.attributes,
                        content: content.into(),
                    });
                    assert_eq!(decoder.flowfiles_decoded(), files.len() as u64);
                }
            }
        }
        if pos == data.len() {
            break;
        }
        let n = sizes[turn % sizes.len()].min(data.len() - pos);
        turn += 1;
        buf.extend_from_slice(&data[pos..pos + n]);
        pos += n;
    }
    decoder.finish(&buf)?;
    assert!(
        current.is_none(),
        "finish accepted a stream ending inside a FlowFile"
    );
    assert_eq!(decoder.bytes_consumed(), data.len() as u64);
    Ok(files)
}
