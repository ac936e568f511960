use std::io::Write;
use std::path::Path;

use super::*;

fn ms(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .timestamp_millis()
}

#[test]
fn keys_with_and_without_prefix() {
    let at = ms("2026-11-24T13:05:00Z");
    let key = LandedKey::new("raw/", "customers", "ss-1", at, 42, Codec::Zstd);
    assert_eq!(
        key.to_string(),
        "raw/customers/dt=2026-11-24/hh=13/ss-1-00000000000000000042.ndjson.zst"
    );
    assert_eq!(key.prefix, "raw");
    let key = LandedKey::new("", "c", "i", at, 1, Codec::Gzip);
    assert_eq!(
        key.to_string(),
        "c/dt=2026-11-24/hh=13/i-00000000000000000001.ndjson.gz"
    );
    let early = LandedKey::new(
        "a/b",
        "s",
        "x",
        ms("2026-01-02T03:59:59.999Z"),
        7,
        Codec::Zstd,
    );
    assert_eq!(
        early.to_string(),
        "a/b/s/dt=2026-01-02/hh=03/x-00000000000000000007.ndjson.zst"
    );
}

#[test]
fn keys_parse_back() {
    let at = ms("2026-11-24T23:05:00Z");
    for key in [
        LandedKey::new("raw", "customers", "ss-1", at, 42, Codec::Zstd),
        LandedKey::new("", "orders", "host-a-b", at, u64::MAX, Codec::Gzip),
        LandedKey::new("a/b/c", "s", "i", 0, 0, Codec::Gzip),
    ] {
        assert_eq!(LandedKey::parse(&key.to_string()), Ok(key));
    }
    let parsed =
        LandedKey::parse("raw/customers/dt=2026-11-24/hh=13/ss-1-00000000000000000042.ndjson.zst")
            .unwrap();
    assert_eq!(
        (parsed.prefix.as_str(), parsed.stream.as_str(), parsed.hh),
        ("raw", "customers", 13)
    );
    assert_eq!((parsed.instance.as_str(), parsed.first_seq), ("ss-1", 42));
    assert_eq!(parsed.dt.to_string(), "2026-11-24");
    assert_eq!(parsed.codec, Codec::Zstd);
}

#[test]
fn malformed_keys_are_rejected() {
    for bad in [
        "",
        "x.ndjson.zst",
        "c/dt=2026-11-24/hh=13/i-1.ndjson.zst",
        "c/dt=2026-11-24/hh=13/i-00000000000000000001.ndjson",
        "c/dt=2026-11-24/hh=13/i-00000000000000000001.ndjson.zst.manifest.json",
        "c/dt=2026-11-24/hh=13/00000000000000000001.ndjson.zst",
        "c/dt=2026-11-24/hh=24/i-00000000000000000001.ndjson.zst",
        "c/dt=2026-11-24/hh=3/i-00000000000000000001.ndjson.zst",
        "c/dt=2026-1-24/hh=13/i-00000000000000000001.ndjson.zst",
        "c/dt=2026-02-30/hh=13/i-00000000000000000001.ndjson.zst",
        "c/hh=13/dt=2026-11-24/i-00000000000000000001.ndjson.zst",
        "/c/dt=2026-11-24/hh=13/i-00000000000000000001.ndjson.zst",
        "c/dt=2026-11-24/hh=13/i-99999999999999999999.ndjson.zst",
    ] {
        let err = LandedKey::parse(bad).expect_err(bad);
        assert!(
            err.to_string().contains("not a landed data file key"),
            "{err}"
        );
    }
}

#[test]
fn data_file_filter() {
    assert!(is_data_file("ss-1-00000000000000000001.ndjson.zst"));
    assert!(is_data_file("ss-1-00000000000000000001.ndjson.gz"));
    assert!(is_data_file(
        "raw/c/dt=2026-11-24/hh=13/i-00000000000000000001.ndjson.gz"
    ));
    assert!(!is_data_file(
        "ss-1-00000000000000000001.ndjson.zst.manifest.json"
    ));
    assert!(!is_data_file(".ss-1-00000000000000000001.ndjson.zst"));
    assert!(!is_data_file("raw/c/.i-00000000000000000001.ndjson.zst"));
    assert!(!is_data_file("notes.txt"));
    assert!(!is_data_file("blob.zst"));
    assert!(!is_data_file("blob.json.gz"));
    assert!(!is_data_file("x.ndjson.zstd"));
}

#[test]
fn manifests_pair_with_data_files() {
    let data = "raw/c/dt=2026-11-24/hh=13/i-00000000000000000001.ndjson.zst";
    let manifest = manifest_key(data);
    assert_eq!(manifest, format!("{data}.manifest.json"));
    assert_eq!(data_key_of_manifest(&manifest), Some(data));
    assert_eq!(data_key_of_manifest(data), None);
    assert_eq!(data_key_of_manifest("notes.manifest.json"), None);
}

fn manifest() -> Manifest {
    Manifest {
        key: "c/dt=2026-11-24/hh=13/ss-1-00000000000000000001.ndjson.zst".into(),
        stream: "customers".into(),
        instance: "ss-1".into(),
        records: 1000,
        first_seq: 1,
        last_seq: 1000,
        uncompressed_bytes: 123456,
        bytes: 23456,
        sha256: "ab".repeat(32),
        compression: Codec::Zstd,
        created_at: "2026-11-24T13:45:01.123Z".into(),
        envelope: Envelope::Meta,
    }
}

#[test]
fn manifest_serde_is_the_contract() {
    let m = manifest();
    let json = serde_json::to_string(&m).unwrap();
    assert_eq!(
        json,
        format!(
            "{{\"key\":\"{}\",\"stream\":\"customers\",\"instance\":\"ss-1\",\"records\":1000,\
             \"first_seq\":1,\"last_seq\":1000,\"uncompressed_bytes\":123456,\"bytes\":23456,\
             \"sha256\":\"{}\",\"compression\":\"zstd\",\"created_at\":\"2026-11-24T13:45:01.123Z\",\
             \"envelope\":\"meta\"}}",
            m.key, m.sha256
        )
    );
    assert_eq!(serde_json::from_str::<Manifest>(&json).unwrap(), m);
    let gz = Manifest {
        compression: Codec::Gzip,
        ..m.clone()
    };
    let pretty = serde_json::to_vec_pretty(&gz).unwrap();
    assert!(String::from_utf8_lossy(&pretty).contains("\"compression\": \"gzip\""));
    assert_eq!(serde_json::from_slice::<Manifest>(&pretty).unwrap(), gz);
    let unknown = json.replace("\"zstd\"", "\"lz4\"");
    assert!(serde_json::from_str::<Manifest>(&unknown).is_err());
    // A manifest written before envelopes existed means `meta`.
    let old = json.replace(",\"envelope\":\"meta\"", "");
    assert!(!old.contains("envelope"));
    assert_eq!(serde_json::from_str::<Manifest>(&old).unwrap(), m);
    let record = json.replace("\"envelope\":\"meta\"", "\"envelope\":\"record\"");
    assert_eq!(
        serde_json::from_str::<Manifest>(&record).unwrap().envelope,
        Envelope::Record
    );
    let bad = json.replace("\"envelope\":\"meta\"", "\"envelope\":\"both\"");
    assert!(serde_json::from_str::<Manifest>(&bad).is_err());
}

#[test]
fn envelope_names_parse_back() {
    for e in [Envelope::Meta, Envelope::Record] {
        assert_eq!(e.name().parse::<Envelope>(), Ok(e));
        assert_eq!(e.to_string().to_uppercase().parse::<Envelope>(), Ok(e));
    }
    assert_eq!(Envelope::default(), Envelope::Meta);
    assert!(
        "none"
            .parse::<Envelope>()
            .unwrap_err()
            .contains("meta or record")
    );
}

#[test]
fn lines_are_byte_exact() {
    let mut w = LineWriter::new("cust\"omers", "ss-1");
    let at = format_time(ms("2026-11-24T13:45:01.123Z"));
    assert_eq!(at, "2026-11-24T13:45:01.123Z");
    let line = w.line(br#"{"id":1,"name":"A"}"#, 42, &at, br#"{"uuid":"u"}"#);
    assert_eq!(
        std::str::from_utf8(line).unwrap(),
        "{\"record\":{\"id\":1,\"name\":\"A\"},\"meta\":{\"stream\":\"cust\\\"omers\",\
         \"instance\":\"ss-1\",\"seq\":42,\"received_at\":\"2026-11-24T13:45:01.123Z\",\
         \"attributes\":{\"uuid\":\"u\"}}}\n"
    );
    let again = w.line(b"{}", 43, &at, b"{}").to_vec();
    assert!(again.starts_with(b"{\"record\":{},\"meta\":"));
    assert_eq!(format_time(0), "1970-01-01T00:00:00.000Z");
}

#[test]
fn lines_parse_and_reject() {
    let l = LandedLine::parse(r#"{"record":{"a":[1, 2]},"meta":{"seq":1}}"#).unwrap();
    assert_eq!(l.record.get(), r#"{"a":[1, 2]}"#);
    assert_eq!(l.meta.map(|m| m.get()), Some(r#"{"seq":1}"#));
    assert!(
        LandedLine::parse(r#"{"record":{}}"#)
            .unwrap()
            .meta
            .is_none()
    );
    assert!(matches!(
        LandedLine::parse(r#"{"record":[1],"meta":{}}"#),
        Err(LineError::RecordNotObject)
    ));
    assert!(LandedLine::parse("[1]").is_err());
    for bad in ["not json", "{}", r#"{"meta":{}}"#, "[]"] {
        assert!(
            matches!(LandedLine::parse(bad), Err(LineError::Json(_))),
            "{bad}"
        );
    }
}

#[test]
fn line_numbers_count_blank_lines() {
    let text = "a\r\n\n  \nb\nc";
    let got: Vec<_> = lines(text).collect();
    assert_eq!(got, vec![(1, "a"), (4, "b"), (5, "c")]);
    assert_eq!(lines("").count(), 0);
}

/// Writes `records` as a landed file at `path` with `codec`, returning the uncompressed text.
fn land(path: &Path, codec: Codec, records: &[&str]) -> String {
    let mut w = LineWriter::new("customers", "ss-1");
    let at = format_time(1_764_000_000_000);
    let mut text = Vec::new();
    for (i, r) in records.iter().enumerate() {
        text.extend_from_slice(w.line(r.as_bytes(), 10 + i as u64, &at, b"{}"));
    }
    let file = std::fs::File::create(path).unwrap();
    match codec {
        Codec::Zstd => {
            let mut enc = zstd::stream::write::Encoder::new(file, 3).unwrap();
            enc.write_all(&text).unwrap();
            enc.finish().unwrap();
        }
        Codec::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(file, flate2::Compression::new(6));
            enc.write_all(&text).unwrap();
            enc.finish().unwrap();
        }
    }
    String::from_utf8(text).unwrap()
}

#[test]
fn written_lines_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let records = [
        r#"{"id":1}"#,
        r#"{"id":2,"n":"é"}"#,
        r#"{"id":3,"x":{"y":null}}"#,
    ];
    for codec in [Codec::Zstd, Codec::Gzip] {
        let key = LandedKey::new("", "customers", "ss-1", 0, 10, codec).to_string();
        let path = dir.path().join(key.rsplit('/').next().unwrap());
        let written = land(&path, codec, &records);
        let file = open(&path).unwrap();
        assert_eq!(file.codec(), codec);
        assert_eq!(file.stored_bytes(), std::fs::metadata(&path).unwrap().len());
        let text = file.read_text().unwrap();
        assert_eq!(text, written);
        let parsed: Vec<_> = lines(&text)
            .map(|(n, l)| (n, LandedLine::parse(l).unwrap()))
            .collect();
        assert_eq!(parsed.len(), records.len());
        for (i, (n, line)) in parsed.iter().enumerate() {
            assert_eq!(*n, i as u64 + 1);
            assert_eq!(line.record.get(), records[i]);
            let meta: serde_json::Value = serde_json::from_str(line.meta.unwrap().get()).unwrap();
            assert_eq!(meta["seq"], 10 + i as u64);
            assert_eq!(meta["stream"], "customers");
            assert_eq!(meta["instance"], "ss-1");
            assert_eq!(meta["attributes"], serde_json::json!({}));
        }
        assert_eq!(open(&path).unwrap().count_lines().unwrap(), 3);
    }
}

#[test]
fn unreadable_files_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, b"hi").unwrap();
    assert!(matches!(open(&notes), Err(ReadError::NotDataFile { .. })));
    assert!(matches!(
        open(&dir.path().join("missing.ndjson.zst")),
        Err(ReadError::Io { .. })
    ));
    for codec in [Codec::Zstd, Codec::Gzip] {
        let path = dir.path().join(format!("t.ndjson.{}", codec.extension()));
        land(&path, codec, &[r#"{"id":1}"#; 50]);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let err = open(&path).and_then(LandedFile::read_text).unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("not a complete {codec} NDJSON file")),
            "{err}"
        );
        let err = open(&path).and_then(LandedFile::count_lines).unwrap_err();
        assert!(matches!(err, ReadError::Decompress { .. }), "{err}");
    }
}

#[test]
fn record_lines_are_the_record_alone() {
    let at = format_time(ms("2026-11-24T13:45:01.123Z"));
    let mut w = LineWriter::new("customers", "ss-1").with_envelope(Envelope::Record);
    let record = br#"{"id":1,"name":"A"}"#;
    let line = w.line(record, 42, &at, br#"{"uuid":"u","big":"xxxxxxxx"}"#);
    assert_eq!(line, b"{\"id\":1,\"name\":\"A\"}\n");
    let meta = LineWriter::new("customers", "ss-1")
        .line(record, 42, &at, b"{}")
        .len();
    assert!(meta > 2 * line.len(), "{meta}");
}

#[test]
fn lines_parse_in_their_envelope() {
    let l = LandedLine::parse_in(Envelope::Record, r#"{"a":[1, 2]}"#).unwrap();
    assert_eq!(l.record.get(), r#"{"a":[1, 2]}"#);
    assert!(l.meta.is_none());
    // A record that happens to look like a meta line is still the record.
    let looks = r#"{"record":{"id":1},"meta":{}}"#;
    let l = LandedLine::parse_in(Envelope::Record, looks).unwrap();
    assert_eq!(l.record.get(), looks);
    let l = LandedLine::parse_in(Envelope::Meta, looks).unwrap();
    assert_eq!(l.record.get(), r#"{"id":1}"#);
    for bad in ["[1]", "1", "\"s\""] {
        assert!(
            matches!(
                LandedLine::parse_in(Envelope::Record, bad),
                Err(LineError::RecordNotObject)
            ),
            "{bad}"
        );
    }
    for bad in ["not json", "{\"a\":1} {}", "{"] {
        assert!(
            matches!(
                LandedLine::parse_in(Envelope::Record, bad),
                Err(LineError::NotObject(_))
            ),
            "{bad}"
        );
    }
}

/// Writes `records` (first sequence number `first_seq`) in `envelope` and reads them back
/// with their lineage: the record verbatim, the same stream, instance and seq either way.
#[test]
fn both_envelopes_round_trip_with_lineage() {
    let records = [
        r#"{"id":1}"#,
        r#"{"id":2,"n":"é"}"#,
        r#"{"id":3,"x":{"y":null}}"#,
    ];
    let received = 1_764_000_000_000;
    let key = LandedKey::new("raw", "customers", "ss-1", received, 10, Codec::Zstd);
    for envelope in [Envelope::Meta, Envelope::Record] {
        let mut w = LineWriter::new("customers", "ss-1").with_envelope(envelope);
        let at = format_time(received);
        let mut text = Vec::new();
        for (i, r) in records.iter().enumerate() {
            text.extend_from_slice(w.line(r.as_bytes(), 10 + i as u64, &at, br#"{"k":"v"}"#));
        }
        let text = String::from_utf8(text).unwrap();
        let m = Manifest {
            key: key.to_string(),
            first_seq: 10,
            last_seq: 12,
            records: 3,
            envelope,
            ..manifest()
        };
        let parsed: Vec<_> = lines(&text).collect();
        assert_eq!(parsed.len(), records.len(), "{envelope}");
        for (i, (row, line)) in parsed.into_iter().enumerate() {
            let l = LandedLine::parse_in(m.envelope, line).unwrap();
            assert_eq!(l.record.get(), records[i]);
            let lineage = l.lineage(&key, Some(&m), row).unwrap();
            assert_eq!(lineage.stream, "customers");
            assert_eq!(lineage.instance, "ss-1");
            assert_eq!(lineage.seq, 10 + i as u64, "{envelope} row {row}");
            let when = lineage.received_at.unwrap();
            match envelope {
                Envelope::Meta => assert_eq!(when, at),
                Envelope::Record => assert_eq!(when, m.created_at),
            }
            if envelope == Envelope::Record {
                assert_eq!(l.lineage(&key, None, row).unwrap().received_at, None);
            }
        }
    }
}

#[test]
fn write_batch_writes_each_record_line_with_its_seq_and_group_attributes() {
    let at = chrono::DateTime::parse_from_rfc3339("2026-11-24T13:05:00.250Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let mut batch = crate::Batch::new(at);
    let body = b"{\"id\":1}\n{\"id\":2}\n";
    crate::fill_batch(
        &mut batch,
        &[("filename", "a")],
        body,
        crate::Format::Ndjson,
    )
    .unwrap();
    crate::fill_batch(
        &mut batch,
        &[("filename", "b")],
        b"{\"id\":3}",
        crate::Format::Ndjson,
    )
    .unwrap();
    let packed = batch.into_payload(41);
    let mut out = Vec::new();
    let mut lines = LineWriter::new("customers", "ss-1");
    assert_eq!(lines.write_batch(&packed, &mut out).unwrap(), 3);
    let text = String::from_utf8(out).unwrap();
    let got: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(got.len(), 3);
    for (i, (line, file)) in got.iter().zip(["a", "a", "b"]).enumerate() {
        assert_eq!(line["record"]["id"], i as u64 + 1);
        assert_eq!(line["meta"]["seq"], 41 + i as u64);
        assert_eq!(line["meta"]["received_at"], "2026-11-24T13:05:00.250Z");
        assert_eq!(line["meta"]["attributes"]["filename"], file);
    }
    let err = lines
        .write_batch(b"not a batch", &mut Vec::new())
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
}
