//! Conformance against byte streams produced by NiFi's own FlowFilePackagerV3/V2
//! (shared/fixtures/flowfile, and this crate's tests/fixtures, made by
//! scripts/make-flowfile-fixtures.sh with the packagers compiled from apache/nifi
//! rel/nifi-1.28.1): decode with default limits, chunked decode, byte-exact re-encode, and
//! rejections.

use std::collections::BTreeSet;
use std::path::PathBuf;

use flowfile::{DecodeError, FlowFile, Limits, Part, Version, decode_all, encode};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::support;

fn fixture_dir() -> PathBuf {
    let dir = match std::env::var_os("SNOWSTREAM_SHARED_DIR") {
        Some(shared) => PathBuf::from(shared).join("fixtures/flowfile"),
        None => PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/fixtures/flowfile"
        )),
    };
    assert!(
        dir.join("manifest.json").is_file(),
        "FlowFile fixtures not found at {} (set SNOWSTREAM_SHARED_DIR to the shared/ directory)",
        dir.display()
    );
    dir
}

/// This crate's own fixtures, made by NiFi's packagers (see the module doc).
fn own_fixture_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures"))
}

fn read_json(name: &str) -> Vec<Value> {
    read_json_in(&fixture_dir(), name)
}

fn read_json_in(dir: &std::path::Path, name: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join(name)).unwrap();
    serde_json::from_str::<Value>(&text)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn read_bin(name: &str) -> Vec<u8> {
    read_bin_in(&fixture_dir(), name)
}

fn read_bin_in(dir: &std::path::Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn version(entry: &Value) -> Version {
    match entry["format"].as_str().unwrap() {
        "v3" => Version::V3,
        "v2" => Version::V2,
        other => panic!("unknown format {other}"),
    }
}

fn hex_sha256(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn check_against_manifest(file: &str, entry: &Value, decoded: &[FlowFile]) {
    let expected = entry["flowfiles"].as_array().unwrap();
    assert_eq!(decoded.len(), expected.len(), "{file}: number of FlowFiles");
    for (i, (got, want)) in decoded.iter().zip(expected).enumerate() {
        let want_attrs: Vec<(String, String)> = want["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|pair| {
                (
                    pair[0].as_str().unwrap().to_owned(),
                    pair[1].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(
            got.attributes, want_attrs,
            "{file} FlowFile #{i}: attributes"
        );
        assert_eq!(
            got.content.len() as u64,
            want["content_len"].as_u64().unwrap(),
            "{file} #{i}: content length"
        );
        assert_eq!(
            hex_sha256(&got.content),
            want["content_sha256"].as_str().unwrap(),
            "{file} #{i}: content sha256"
        );
    }
}

#[test]
fn valid_fixtures_decode_reencode_and_chunk() {
    assert!(
        read_json("manifest.json").len() >= 10,
        "manifest unexpectedly small"
    );
    check_valid_fixtures(&fixture_dir());
}

/// Two attribute values over 64 KiB in one FlowFile, as NiFi's packager writes them (its
/// long length form): NiFi takes such a FlowFile, so the default limits must too.
#[test]
fn own_fixtures_decode_with_default_limits() {
    let dir = own_fixture_dir();
    check_valid_fixtures(&dir);
    let manifest = read_json_in(&dir, "manifest.json");
    let wide = manifest
        .iter()
        .find(|e| e["file"] == "two_64k_attributes.v2.bin")
        .unwrap();
    let attribute_bytes: usize = wide["flowfiles"][0]["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|kv| kv[0].as_str().unwrap().len() + kv[1].as_str().unwrap().len())
        .sum();
    assert!(attribute_bytes > 128 * 1024, "{attribute_bytes}");
}

fn check_valid_fixtures(dir: &std::path::Path) {
    let manifest = read_json_in(dir, "manifest.json");
    let (mut saw_v2, mut saw_v3) = (false, false);
    for entry in &manifest {
        let file = entry["file"].as_str().unwrap();
        let version = version(entry);
        saw_v2 |= version == Version::V2;
        saw_v3 |= version == Version::V3;
        let data = read_bin_in(dir, file);

        let decoded =
            decode_all(version, &data, Limits::default()).unwrap_or_else(|e| panic!("{file}: {e}"));
        check_against_manifest(file, entry, &decoded);

        let mut reencoded = Vec::new();
        for ff in &decoded {
            encode(version, &ff.attributes, &ff.content, &mut reencoded);
        }
        assert!(
            reencoded == data,
            "{file}: re-encoding differs from NiFi's bytes"
        );

        for sizes in [
            &[1usize][..],
            &[7],
            &[64],
            &[1, 7, 64, 3, 4096, 2],
            &[65536],
        ] {
            let chunked = support::decode_chunked(version, &data, sizes)
                .unwrap_or_else(|e| panic!("{file} {sizes:?}: {e}"));
            assert_eq!(chunked, decoded, "{file}: chunk sizes {sizes:?}");
        }

        // The wrong version must not silently decode a v3 stream.
        if version == Version::V3 {
            assert!(
                decode_all(Version::V2, &data, Limits::default()).is_err() || data.is_empty(),
                "{file} as v2"
            );
        }
    }
    assert!(saw_v2 && saw_v3, "manifest must cover both versions");
}

#[test]
fn binary_content_fixture_holds_every_byte_value() {
    let files = decode_all(
        Version::V3,
        &read_bin("binary_content.v3.bin"),
        Limits::default(),
    )
    .unwrap();
    let expected: Vec<u8> = (0..4).flat_map(|_| 0..=255u8).collect();
    assert_eq!(&files[0].content[..], &expected[..]);
}

/// Whether `err` is the rejection the fixture's `why` describes.
fn matches_reason(file: &str, err: &DecodeError) -> bool {
    match file {
        "invalid_truncated_content.v3.bin" => {
            matches!(
                err,
                DecodeError::Truncated {
                    part: Part::Content,
                    missing: Some(10),
                    ..
                }
            )
        }
        "invalid_bad_magic.v3.bin" => matches!(
            err,
            DecodeError::BadMagic {
                offset: 0,
                flowfile: 0,
                ..
            }
        ),
        "invalid_zero_attributes.v3.bin" => {
            matches!(
                err,
                DecodeError::ZeroAttributes {
                    offset: 7,
                    flowfile: 0
                }
            )
        }
        "invalid_truncated_header.v3.bin" => matches!(
            err,
            DecodeError::Truncated {
                part: Part::KeyLength(_) | Part::Key(_) | Part::ValueLength(_) | Part::Value(_),
                ..
            }
        ),
        "invalid_trailing_garbage.v3.bin" => {
            matches!(err, DecodeError::TrailingData { flowfiles: 3, .. })
        }
        "invalid_huge_length.v3.bin" => {
            matches!(err, DecodeError::ContentTooLarge { len, .. } if *len == 1 << 62)
        }
        other => panic!("no expectation written for new invalid fixture {other}"),
    }
}

#[test]
fn invalid_fixtures_are_rejected_for_the_right_reason() {
    let invalid = read_json("invalid.json");
    assert!(!invalid.is_empty());
    for entry in &invalid {
        let file = entry["file"].as_str().unwrap();
        let version = version(entry);
        let data = read_bin(file);
        let err = decode_all(version, &data, Limits::default()).expect_err(file);
        assert!(
            matches_reason(file, &err),
            "{file}: expected {:?}, got {err:?}: {err}",
            entry["why"]
        );
        for sizes in [&[1usize][..], &[7, 64]] {
            let chunked = support::decode_chunked(version, &data, sizes).expect_err(file);
            assert!(
                matches_reason(file, &chunked),
                "{file} chunked {sizes:?}: {chunked:?}"
            );
        }
    }
}

#[test]
fn every_fixture_file_is_listed() {
    let listed: BTreeSet<String> = read_json("manifest.json")
        .iter()
        .chain(read_json("invalid.json").iter())
        .map(|e| e["file"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(listed, bin_files(&fixture_dir()));
    let own: BTreeSet<String> = read_json_in(&own_fixture_dir(), "manifest.json")
        .iter()
        .map(|e| e["file"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(own, bin_files(&own_fixture_dir()));
}

fn bin_files(dir: &std::path::Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".bin"))
        .collect()
}
