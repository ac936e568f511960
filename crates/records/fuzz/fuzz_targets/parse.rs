//! Arbitrary content through the record parsers, plain or gzip'd through the capped gunzip:
//! never a panic; every record emitted is one line of a JSON object; a batch filled from the
//! same content holds exactly the records the parser reported.
//! First input byte: bits 0-1 pick the format (json, ndjson, csv), bit 2 gunzips first.
#![no_main]

use libfuzzer_sys::fuzz_target;
use records::{Batch, Format};

fuzz_target!(|data: &[u8]| {
    let Some((&control, content)) = data.split_first() else {
        return;
    };
    let format = match control & 3 {
        0 => Format::Json,
        1 => Format::Ndjson,
        _ => Format::Csv,
    };
    let inflated;
    let content = if control & 4 != 0 {
        match records::gunzip(content, 1 << 20) {
            Ok(out) => {
                assert!(out.len() <= 1 << 20, "gunzip went past its limit");
                inflated = out;
                &inflated[..]
            }
            Err(_) => return,
        }
    } else {
        content
    };
    let mut emitted = 0u64;
    let parsed = records::parse(content, format, &mut |record: &[u8]| {
        assert!(!record.contains(&b'\n'), "a record spans lines");
        // Checked as text: a Value tree would misread a key named like serde_json's private
        // RawValue marker, which is legitimate data here.
        serde_json::from_slice::<serde::de::IgnoredAny>(record)
            .expect("every record is valid JSON");
        assert_eq!(record.first(), Some(&b'{'), "every record is an object");
        emitted += 1;
    });
    if let Ok(count) = parsed {
        assert_eq!(count, emitted);
        let mut batch = Batch::new(Default::default());
        let filled = records::fill_batch::<&str, &str>(&mut batch, &[("a", "b")], content, format)
            .expect("the same content parses twice");
        assert_eq!(filled, count);
        assert_eq!(batch.records(), count);
    }
});
