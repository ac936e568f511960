//! Unit tests: exact error kinds and positions, limits, and the wire details.

use super::*;

fn one(version: Version, attrs: &[(&str, &str)], content: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode(version, attrs, content, &mut out);
    out
}

fn err(version: Version, data: &[u8]) -> DecodeError {
    decode_all(version, data, Limits::default()).expect_err("must be rejected")
}

#[test]
fn mime_types() {
    assert_eq!(
        Version::from_mime("application/flowfile-v3"),
        Some(Version::V3)
    );
    assert_eq!(
        Version::from_mime("Application/FlowFile-V2; charset=x"),
        Some(Version::V2)
    );
    assert_eq!(
        Version::from_mime(" application/flowfile-v3 ;q=1"),
        Some(Version::V3)
    );
    assert_eq!(Version::from_mime("application/flowfile"), None);
    assert_eq!(Version::from_mime("application/json"), None);
    assert_eq!(Version::from_mime(Version::V2.mime()), Some(Version::V2));
}

#[test]
fn nifi_javadoc_example_v2() {
    // The example in NiFi's FlowFilePackagerV2 javadoc: A=a, B=b, "Hello World!".
    let expected = [
        0x00, 0x02, 0x00, 0x01, 0x41, 0x00, 0x01, 0x61, 0x00, 0x01, 0x42, 0x00, 0x01, 0x62, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0C,
    ];
    let bytes = one(Version::V2, &[("A", "a"), ("B", "b")], b"Hello World!");
    assert_eq!(&bytes[..22], &expected);
    assert_eq!(&bytes[22..], b"Hello World!");
    let v3 = one(Version::V3, &[("A", "a"), ("B", "b")], b"Hello World!");
    assert_eq!(&v3[..7], MAGIC);
    assert_eq!(&v3[7..], &bytes[..]);
}

#[test]
fn length_escape_boundary() {
    for (len, width) in [(65534usize, 2usize), (65535, 6), (70000, 6)] {
        let value = "v".repeat(len);
        let bytes = one(Version::V2, &[("k", value.as_str())], b"");
        // count(2) + key len(2) + "k" + value len field
        assert_eq!(bytes.len(), 2 + 2 + 1 + width + len + 8, "length {len}");
        let files = decode_all(Version::V2, &bytes, Limits::default()).unwrap();
        assert_eq!(files[0].attributes[0].1.len(), len);
    }
    // An escaped small length is also accepted on input (NiFi reads it the same way).
    let mut data = MAGIC.to_vec();
    data.extend_from_slice(&[0xFF, 0xFF, 0, 0, 0, 1, 0, 1, b'k', 0, 1, b'v']);
    data.extend_from_slice(&0u64.to_be_bytes());
    let files = decode_all(Version::V3, &data, Limits::default()).unwrap();
    assert_eq!(files[0].attributes, [("k".to_string(), "v".to_string())]);
}

#[test]
fn empty_stream_is_zero_flowfiles() {
    assert!(
        decode_all(Version::V3, b"", Limits::default())
            .unwrap()
            .is_empty()
    );
    assert!(
        decode_all(Version::V2, b"", Limits::default())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn zero_attributes_rejected_at_its_offset() {
    let mut data = one(Version::V3, &[("a", "b")], b"xy");
    let second = data.len() as u64;
    data.extend_from_slice(MAGIC);
    data.extend_from_slice(&[0, 0]);
    data.extend_from_slice(&0u64.to_be_bytes());
    assert_eq!(
        err(Version::V3, &data),
        DecodeError::ZeroAttributes {
            offset: second + 7,
            flowfile: 1
        }
    );
    let e = err(Version::V2, &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(
        e,
        DecodeError::ZeroAttributes {
            offset: 0,
            flowfile: 0
        }
    );
    assert!(e.to_string().contains("zero attributes"), "{e}");
}

#[test]
fn bad_magic_detected_early() {
    let mut dec = Decoder::new(Version::V3, Limits::default());
    let mut buf = BytesMut::from(&b"NiX"[..]);
    let e = dec.decode(&mut buf).unwrap_err();
    assert!(matches!(
        e,
        DecodeError::BadMagic {
            offset: 0,
            flowfile: 0,
            ..
        }
    ));
    assert!(e.to_string().contains("NiX"), "{e}");
    // The decoder stays failed.
    let mut more = BytesMut::from(&one(Version::V3, &[("a", "b")], b"")[..]);
    assert_eq!(dec.decode(&mut more).unwrap_err(), e);
    assert_eq!(dec.finish(&more).unwrap_err(), e);
}

#[test]
fn truncation_reports_part_and_missing_bytes() {
    let data = one(Version::V3, &[("filename", "abc")], b"0123456789");
    // magic 7, count 2, key 2+8, value 2+3, content len 8, content 10 = 42
    assert_eq!(data.len(), 42);
    let cases: &[(usize, Part, u64)] = &[
        (8, Part::AttributeCount, 1),
        (9, Part::KeyLength(0), 2),
        (14, Part::Key(0), 5),
        (20, Part::ValueLength(0), 1),
        (23, Part::Value(0), 1),
        (26, Part::ContentLength, 6),
        (35, Part::Content, 7),
    ];
    for &(cut, part, missing) in cases {
        match err(Version::V3, &data[..cut]) {
            DecodeError::Truncated {
                flowfile: 0,
                part: p,
                missing: Some(m),
                offset,
            } => {
                assert_eq!((p, m), (part, missing), "cut at {cut}");
                assert!(offset <= cut as u64);
            }
            other => panic!("cut at {cut}: unexpected {other:?}"),
        }
    }
    let e = err(Version::V3, &data[..35]);
    assert_eq!(
        e.to_string(),
        "stream ended inside FlowFile #0: the content starting at byte 32 is incomplete (7 more bytes expected)"
    );
}

#[test]
fn trailing_partial_header_is_trailing_data() {
    let mut data = one(Version::V3, &[("a", "b")], b"c");
    let end = data.len() as u64;
    data.extend_from_slice(b"NiFi");
    assert_eq!(
        err(Version::V3, &data),
        DecodeError::TrailingData {
            offset: end,
            len: 4,
            flowfiles: 1
        }
    );
    let mut v2 = one(Version::V2, &[("a", "b")], b"c");
    v2.push(0);
    assert!(matches!(
        err(Version::V2, &v2),
        DecodeError::TrailingData {
            len: 1,
            flowfiles: 1,
            ..
        }
    ));
}

#[test]
fn content_limit_refused_before_reading() {
    let mut data = MAGIC.to_vec();
    data.extend_from_slice(&[0, 1, 0, 1, b'k', 0, 1, b'v']);
    data.extend_from_slice(&(1u64 << 62).to_be_bytes());
    let e = err(Version::V3, &data);
    assert_eq!(
        e,
        DecodeError::ContentTooLarge {
            offset: 15,
            flowfile: 0,
            len: 1 << 62,
            limit: 64 << 30
        }
    );
    // u64::MAX (negative in Java) too.
    let mut data2 = data[..15].to_vec();
    data2.extend_from_slice(&u64::MAX.to_be_bytes());
    assert!(matches!(
        err(Version::V3, &data2),
        DecodeError::ContentTooLarge { .. }
    ));
}

#[test]
fn absurd_attribute_length_refused_without_waiting() {
    // Declares a 4 GiB - 1 value; the decoder must refuse as soon as it sees the length.
    let mut dec = Decoder::new(Version::V2, Limits::default());
    let mut buf = BytesMut::from(&[0, 1, 0, 1, b'k', 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF][..]);
    let e = dec.decode(&mut buf).unwrap_err();
    assert_eq!(
        e,
        DecodeError::AttributesTooLarge {
            offset: 5,
            flowfile: 0,
            part: Part::ValueLength(0),
            len: u32::MAX,
            total: 1 + u64::from(u32::MAX),
            limit: 1 << 20,
        }
    );
    // The budget is per FlowFile, over keys and values together.
    let limits = Limits {
        max_attribute_bytes: 10,
        ..Limits::default()
    };
    let ok = one(Version::V2, &[("abc", "de"), ("fg", "hij")], b"");
    assert_eq!(decode_all(Version::V2, &ok, limits).unwrap().len(), 1);
    let over = one(Version::V2, &[("abc", "de"), ("fg", "hijk")], b"");
    assert!(matches!(
        decode_all(Version::V2, &over, limits),
        Err(DecodeError::AttributesTooLarge {
            part: Part::ValueLength(1),
            total: 11,
            ..
        })
    ));
}

#[test]
fn attribute_count_limit() {
    let limits = Limits {
        max_attributes: 2,
        ..Limits::default()
    };
    let data = one(Version::V3, &[("a", "1"), ("b", "2"), ("c", "3")], b"");
    assert_eq!(
        decode_all(Version::V3, &data, limits).unwrap_err(),
        DecodeError::TooManyAttributes {
            offset: 7,
            flowfile: 0,
            count: 3,
            limit: 2
        }
    );
    // An escaped count of 2^32-1 is refused as well.
    let mut data = MAGIC.to_vec();
    data.extend_from_slice(&[0xFF; 6]);
    assert!(matches!(
        err(Version::V3, &data),
        DecodeError::TooManyAttributes {
            count: u32::MAX,
            ..
        }
    ));
}

#[test]
fn invalid_utf8_points_at_the_byte() {
    let mut data = vec![0, 1, 0, 2, b'o', b'k', 0, 3, b'a', 0xC3, b'('];
    data.extend_from_slice(&0u64.to_be_bytes());
    let e = err(Version::V2, &data);
    assert_eq!(
        e,
        DecodeError::InvalidUtf8 {
            offset: 8,
            flowfile: 0,
            part: Part::Value(0),
            valid_up_to: 1
        }
    );
    assert!(e.to_string().contains("first bad byte at 9"), "{e}");
}

#[test]
fn content_is_yielded_in_pieces_without_waiting() {
    let data = one(Version::V3, &[("a", "b")], &[7u8; 1000]);
    let header_len = data.len() - 1000;
    let mut dec = Decoder::new(Version::V3, Limits::default());
    let mut buf = BytesMut::from(&data[..header_len + 10]);
    let Some(Event::Header(h)) = dec.decode(&mut buf).unwrap() else {
        panic!("header expected")
    };
    assert_eq!(h.content_len, 1000);
    assert_eq!(h.get("a"), Some("b"));
    assert_eq!(
        dec.decode(&mut buf).unwrap(),
        Some(Event::Content(Bytes::from(vec![7u8; 10])))
    );
    assert_eq!(dec.decode(&mut buf).unwrap(), None);
    assert!(buf.is_empty());
    buf.extend_from_slice(&data[header_len + 10..]);
    assert_eq!(
        dec.decode(&mut buf).unwrap(),
        Some(Event::Content(Bytes::from(vec![7u8; 990])))
    );
    assert_eq!(dec.decode(&mut buf).unwrap(), Some(Event::End));
    assert_eq!(dec.decode(&mut buf).unwrap(), None);
    assert_eq!(dec.flowfiles_decoded(), 1);
    assert_eq!(dec.bytes_consumed(), data.len() as u64);
    dec.finish(&buf).unwrap();
}

#[test]
fn duplicate_keys_kept_last_wins_in_get() {
    let data = one(Version::V2, &[("k", "1"), ("k", "2")], b"");
    let files = decode_all(Version::V2, &data, Limits::default()).unwrap();
    assert_eq!(files[0].attributes.len(), 2);
    let h = Header {
        attributes: files[0].attributes.clone(),
        content_len: 0,
    };
    assert_eq!(h.get("k"), Some("2"));
    assert_eq!(h.get("missing"), None);
}

#[test]
fn encode_header_then_content_equals_encode() {
    let attrs = [("filename", "x"), ("uuid", "y")];
    let mut a = Vec::new();
    encode_header(Version::V3, &attrs, 3, &mut a);
    a.extend_from_slice(b"abc");
    assert_eq!(a, one(Version::V3, &attrs, b"abc"));
    let owned: Vec<(String, String)> = vec![("k".into(), "v".into())];
    let mut b = Vec::new();
    encode(Version::V2, &owned, b"", &mut b);
    assert_eq!(b, one(Version::V2, &[("k", "v")], b""));
}
