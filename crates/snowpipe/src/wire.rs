//! The JSON bodies of Snowpipe's REST API, as Snowflake's "Snowpipe REST API" reference
//! documents them: what the client sends and parses, and what the embedded pipe in
//! `warehouse::rest` answers.
//!
//! Field names are camelCase on the wire. Deserialising is lenient (missing fields take their
//! defaults, unknown fields are ignored) so the client copes with Snowflake adding fields;
//! serialising leaves out optional fields that are `None`, except in [`ErrorBody`], whose
//! `data` and `headers` are always `null` like Snowflake's.

use serde::{Deserialize, Deserializer, Serialize};

/// Snowpipe accepts at most this many files in one `insertFiles` call.
pub const MAX_FILES_PER_CALL: usize = 5_000;

/// One file named in an `insertFiles` request: its path relative to the stage location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagedFile {
    /// Path relative to the pipe's stage location.
    pub path: String,
    /// Size in bytes, optional (Snowflake uses it to plan the load).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

/// The body of `POST insertFiles`: `{"files":[{"path":…},…]}` (at most
/// [`MAX_FILES_PER_CALL`] entries).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InsertRequest {
    /// The files to load.
    pub files: Vec<StagedFile>,
}

impl InsertRequest {
    /// A request naming `paths`, without sizes.
    pub fn from_paths(paths: &[String]) -> Self {
        InsertRequest {
            files: paths
                .iter()
                .map(|p| StagedFile {
                    path: p.clone(),
                    size: None,
                })
                .collect(),
        }
    }
}

/// The answer to a successful `insertFiles`: `{"requestId":…,"responseCode":"SUCCESS"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InsertResponse {
    /// The `requestId` query parameter of the call.
    #[serde(default)]
    pub request_id: String,
    /// `SUCCESS` when the files were queued (here: loaded).
    #[serde(default)]
    pub response_code: String,
    /// Submitted files that did not match the pipe's `PATTERN` and were skipped: they will
    /// never load (REST reference, insertFiles, "Response Payload").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unmatched_pattern_files: Vec<String>,
}

/// The load outcome of one file, an entry of `insertReport` and `loadHistoryScan`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileReport {
    /// Path relative to the stage location, as named in `insertFiles`.
    pub path: String,
    /// The stage location the path is relative to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage_location: Option<String>,
    /// Size of the file in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_size: Option<u64>,
    /// When the `insertFiles` call naming it arrived (ISO-8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_received: Option<String>,
    /// When its rows were inserted (ISO-8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_insert_time: Option<String>,
    /// Rows loaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows_inserted: Option<u64>,
    /// Rows read, loaded or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows_parsed: Option<u64>,
    /// Rows or file-level errors seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors_seen: Option<u64>,
    /// The `ON_ERROR` limit the load ran with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_limit: Option<u64>,
    /// The first error's text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
    /// The line of the first error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_error_line_num: Option<u64>,
    /// An error outside the file's contents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_error: Option<String>,
    /// `false` while the load is still in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complete: Option<bool>,
    /// `LOADED`, `LOAD_FAILED`, `PARTIALLY_LOADED` or `LOAD_IN_PROGRESS`.
    #[serde(default)]
    pub status: String,
}

/// `insertReport`'s `statistics` object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportStatistics {
    /// Files queued and not yet loaded.
    #[serde(default)]
    pub active_files_count: u64,
}

/// The answer to `GET insertReport`: recent load events of the pipe.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InsertReport {
    /// Fully qualified pipe name.
    #[serde(default)]
    pub pipe: String,
    /// Whether every event in range is included; read as a boolean or as the text
    /// `"true"`/`"false"` ([`bool_as_text`]), as loadHistoryScan's is documented.
    #[serde(default, deserialize_with = "bool_as_text::deserialize")]
    pub complete_result: bool,
    /// Pass as `beginMark` to get only newer events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_begin_mark: Option<String>,
    /// One entry per load event.
    #[serde(default)]
    pub files: Vec<FileReport>,
    /// Queue statistics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statistics: Option<ReportStatistics>,
}

/// The answer to `GET loadHistoryScan`: loads in a time range.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryScan {
    /// Fully qualified pipe name.
    #[serde(default)]
    pub pipe: String,
    /// Whether every load in range is included (at most 10,000 are). The REST reference
    /// documents it as a string, `"true"` or `"false"` (loadHistoryScan's response example
    /// shows `"completeResult": "true"`): read as either, written as the reference shows.
    #[serde(default, with = "bool_as_text")]
    pub complete_result: bool,
    /// The range asked for (ISO-8601).
    #[serde(default)]
    pub start_time_inclusive: String,
    /// The range asked for (ISO-8601).
    #[serde(default)]
    pub end_time_exclusive: String,
    /// Earliest `lastInsertTime` among `files` (empty when none).
    #[serde(default)]
    pub range_start_time: String,
    /// Latest `lastInsertTime` among `files` (empty when none).
    #[serde(default)]
    pub range_end_time: String,
    /// One entry per file.
    #[serde(default)]
    pub files: Vec<FileReport>,
}

/// Snowflake's error answer:
/// `{"data":null,"code":"390144","message":"…","success":false,"headers":null}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Always `null`.
    #[serde(default)]
    pub data: Option<serde_json::Value>,
    /// Snowflake's error code, e.g. `390144` for an invalid JWT (absent when not a string).
    #[serde(default, deserialize_with = "string_or_none")]
    pub code: Option<String>,
    /// What went wrong.
    pub message: String,
    /// Always `false`.
    #[serde(default)]
    pub success: bool,
    /// Always `null`.
    #[serde(default)]
    pub headers: Option<serde_json::Value>,
}

impl ErrorBody {
    /// The body of a refusal with `code` and `message`.
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        ErrorBody {
            data: None,
            code: Some(code.to_owned()),
            message: message.into(),
            success: false,
            headers: None,
        }
    }
}

/// A JSON string as `Some`, anything else as `None`.
fn string_or_none<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Some(s),
        _ => None,
    })
}

/// A flag that Snowflake's REST reference gives as the text `"true"` or `"false"`: read
/// from either a JSON boolean or that text, written as the text.
mod bool_as_text {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flag {
        Bool(bool),
        Text(String),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        match Flag::deserialize(d)? {
            Flag::Bool(b) => Ok(b),
            Flag::Text(t) if t.eq_ignore_ascii_case("true") => Ok(true),
            Flag::Text(t) if t.eq_ignore_ascii_case("false") => Ok(false),
            Flag::Text(t) => Err(D::Error::custom(format!(
                "completeResult is {t:?}, not \"true\" or \"false\""
            ))),
        }
    }

    pub fn serialize<S: Serializer>(v: &bool, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(if *v { "true" } else { "false" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn to_value(v: &impl Serialize) -> Value {
        serde_json::to_value(v).unwrap()
    }

    /// loadHistoryScan's answer in the shape the REST reference documents ("Snowpipe REST
    /// API", https://docs.snowflake.com/en/user-guide/data-load-snowpipe-rest-apis,
    /// loadHistoryScan's response fields and example), whose `completeResult` is the text
    /// `"true"` or `"false"`: the stand-in used to answer a JSON boolean, and this client
    /// failed on every answer that followed the reference.
    #[test]
    fn load_history_scan_reads_complete_result_as_documented() {
        let documented = r#"{
          "pipe": "TESTDB.TESTSCHEMA.pipe2",
          "completeResult": "true",
          "startTimeInclusive": "2017-08-25T18:42:31.081Z",
          "endTimeExclusive": "2017-08-25T22:43:45.552Z",
          "rangeStartTime": "2017-08-25T22:43:45.383Z",
          "rangeEndTime": "2017-08-25T22:43:45.383Z",
          "files": [{
            "path": "data2859002086815673867.csv",
            "stageLocation": "s3://mystage/",
            "fileSize": 57,
            "timeReceived": "2017-08-25T22:43:45.383Z",
            "lastInsertTime": "2017-08-25T22:43:45.383Z",
            "rowsInserted": 1,
            "rowsParsed": 1,
            "errorsSeen": 0,
            "errorLimit": 1,
            "complete": true,
            "status": "LOADED"
          }]
        }"#;
        let scan: HistoryScan = serde_json::from_str(documented).unwrap();
        assert!(scan.complete_result);
        assert_eq!(scan.files.len(), 1);
        assert_eq!(scan.files[0].status, "LOADED");
        let partial: HistoryScan =
            serde_json::from_str(r#"{"pipe":"P","completeResult":"false"}"#).unwrap();
        assert!(!partial.complete_result);
        let boolean: HistoryScan =
            serde_json::from_str(r#"{"pipe":"P","completeResult":true}"#).unwrap();
        assert!(boolean.complete_result);
        assert!(serde_json::from_str::<HistoryScan>(r#"{"completeResult":"maybe"}"#).is_err());
        // Written as documented, so the stand-in answers what Snowflake answers.
        assert_eq!(to_value(&scan)["completeResult"], json!("true"));
    }

    #[test]
    fn insert_request_names_paths_only() {
        let req = InsertRequest::from_paths(&["a/1.ndjson.zst".into(), "b/2.ndjson.zst".into()]);
        assert_eq!(
            to_value(&req),
            json!({"files": [{"path": "a/1.ndjson.zst"}, {"path": "b/2.ndjson.zst"}]})
        );
        let back: InsertRequest =
            serde_json::from_str(r#"{"files":[{"path":"x","size":12}]}"#).unwrap();
        assert_eq!(back.files[0].size, Some(12));
    }

    #[test]
    fn error_body_has_snowflakes_nulls() {
        let body = ErrorBody::new("390144", "JWT token is invalid.");
        assert_eq!(
            to_value(&body),
            json!({"data": null, "code": "390144", "message": "JWT token is invalid.",
                   "success": false, "headers": null})
        );
        let numeric: ErrorBody = serde_json::from_str(r#"{"code":42,"message":"m"}"#).unwrap();
        assert_eq!(numeric.code, None);
        assert!(serde_json::from_str::<ErrorBody>(r#"{"code":"1"}"#).is_err());
    }

    #[test]
    fn file_reports_leave_out_what_is_unknown() {
        let f = FileReport {
            path: "p".into(),
            rows_inserted: Some(3),
            complete: Some(true),
            status: "LOADED".into(),
            ..FileReport::default()
        };
        assert_eq!(
            to_value(&f),
            json!({"path": "p", "rowsInserted": 3, "complete": true, "status": "LOADED"})
        );
        let parsed: FileReport = serde_json::from_value(json!({
            "path": "p", "status": "LOAD_FAILED", "firstError": null, "firstErrorLineNum": 7,
            "firstErrorCharacterPos": 3
        }))
        .unwrap();
        assert_eq!(parsed.first_error, None);
        assert_eq!(parsed.first_error_line_num, Some(7));
    }

    #[test]
    fn reports_parse_when_fields_are_missing() {
        let r: InsertReport = serde_json::from_str(r#"{"files":[{"path":"p"}]}"#).unwrap();
        assert_eq!(r.files[0].status, "");
        assert_eq!(r.next_begin_mark, None);
        let s: HistoryScan = serde_json::from_str(r#"{"pipe":"A.B.C"}"#).unwrap();
        assert!(s.files.is_empty() && !s.complete_result);
        let report = InsertReport {
            pipe: "A.B.C".into(),
            complete_result: true,
            next_begin_mark: Some("7".into()),
            files: Vec::new(),
            statistics: Some(ReportStatistics::default()),
        };
        assert_eq!(
            to_value(&report),
            json!({"pipe": "A.B.C", "completeResult": true, "nextBeginMark": "7", "files": [],
                   "statistics": {"activeFilesCount": 0}})
        );
    }
}
