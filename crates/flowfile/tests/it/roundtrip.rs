//! Property tests: encode → decode is the identity for both versions, whatever the attribute
//! text (unicode, empty, over 65535 bytes), content and chunking; truncation is always detected.

use flowfile::{DecodeError, FlowFile, Limits, Version, decode_all, encode};
use proptest::prelude::*;

use crate::support;

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "\\PC{0,24}",
        1 => Just(String::new()),
        // Around the 65535-byte escape: 2-byte length below it, FF FF + 4 bytes at or above.
        1 => (65530usize..65540, any::<char>()).prop_map(|(n, c)| c.to_string().repeat(n / c.len_utf8())),
        1 => (65530usize..70000).prop_map(|n| "é".repeat(n / 2)),
    ]
}

fn flowfile() -> impl Strategy<Value = FlowFile> {
    (
        prop::collection::vec((text(), text()), 1..5),
        prop::collection::vec(any::<u8>(), 0..2000),
    )
        .prop_map(|(attributes, content)| FlowFile {
            attributes,
            content: content.into(),
        })
}

fn version() -> impl Strategy<Value = Version> {
    prop_oneof![Just(Version::V3), Just(Version::V2)]
}

fn encode_all(version: Version, files: &[FlowFile]) -> (Vec<u8>, Vec<usize>) {
    let mut out = Vec::new();
    let mut boundaries = vec![0];
    for ff in files {
        encode(version, &ff.attributes, &ff.content, &mut out);
        boundaries.push(out.len());
    }
    (out, boundaries)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn round_trip(
        version in version(),
        files in prop::collection::vec(flowfile(), 0..4),
        sizes in prop::collection::vec(1usize..5000, 1..6),
    ) {
        let (data, _) = encode_all(version, &files);
        prop_assert_eq!(&decode_all(version, &data, Limits::default()).unwrap(), &files);
        prop_assert_eq!(&support::decode_chunked(version, &data, &sizes).unwrap(), &files);
    }

    #[test]
    fn every_truncation_is_detected(
        version in version(),
        files in prop::collection::vec(flowfile(), 1..3),
        cut_seed in any::<prop::sample::Index>(),
        sizes in prop::collection::vec(1usize..300, 1..4),
    ) {
        let (data, boundaries) = encode_all(version, &files);
        let cut = cut_seed.index(data.len() + 1);
        let prefix = &data[..cut];
        match boundaries.iter().position(|&b| b == cut) {
            Some(n) => prop_assert_eq!(&support::decode_chunked(version, prefix, &sizes).unwrap(), &files[..n].to_vec()),
            None => {
                let err = support::decode_chunked(version, prefix, &sizes).unwrap_err();
                prop_assert!(
                    matches!(err, DecodeError::Truncated { .. } | DecodeError::TrailingData { .. }),
                    "cut at {}: {:?}", cut, err
                );
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        version in version(),
        data in prop::collection::vec(any::<u8>(), 0..400),
        sizes in prop::collection::vec(1usize..64, 1..4),
    ) {
        let whole = decode_all(version, &data, Limits::default());
        let chunked = support::decode_chunked(version, &data, &sizes);
        match (&whole, &chunked) {
            (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
            (Err(a), Err(b)) => {
                prop_assert_eq!(std::mem::discriminant(a), std::mem::discriminant(b));
                prop_assert_eq!((a.offset(), a.flowfile_index()), (b.offset(), b.flowfile_index()));
            }
            _ => prop_assert!(false, "whole {:?} vs chunked {:?}", whole, chunked),
        }
    }
}
