//! Arbitrary bytes through the landed-file readers: key parsing, line parsing and the
//! data-file filter never panic, and a key that parses prints back to the same text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use records::landed::{LandedKey, LandedLine, is_data_file};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = is_data_file(text);
    if let Ok(key) = LandedKey::parse(text) {
        assert_eq!(key.to_string(), text, "a parsed key prints back as given");
    }
    for line in text.lines() {
        let _ = LandedLine::parse(line);
    }
});
