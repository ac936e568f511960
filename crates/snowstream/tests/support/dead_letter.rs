//! What the dead-letter tests share: the stream options that dead-letter, and a PostHTTP batch
//! with one FlowFile that does not parse (`http::dead_letter` in the `it` binary, the metric's
//! test in `serial`).

use flowfile::Version;
use server::{OnParseError, StreamOptions};

use super::receiver::package;

pub fn dead_letter_options() -> StreamOptions {
    StreamOptions {
        on_parse_error: OnParseError::DeadLetter,
        ..StreamOptions::default()
    }
}

/// A PostHTTP batch of three FlowFiles; the second has a good record, then a broken one.
pub fn batch_with_one_bad() -> Vec<u8> {
    package(
        Version::V3,
        &[
            (
                &[("filename", "ok.json"), ("mime.type", "application/json")],
                b"{\"id\":1}",
            ),
            (
                &[
                    ("filename", "bad.ndjson"),
                    ("mime.type", "application/x-ndjson"),
                    ("kafka.topic", "customers"),
                ],
                b"{\"id\":2}\n{\"id\":3\n",
            ),
            (
                &[("filename", "good.csv"), ("mime.type", "text/csv")],
                b"id,name\n4,Ann\n",
            ),
        ],
    )
}
