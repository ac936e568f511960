//! Typing record fields into column values, like Snowflake's `TRY_CAST(record:col::VARCHAR
//! AS type)`: a value that does not fit the column type becomes NULL.

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::types::Value;
use serde_json::Value as Json;

use crate::spec::ColumnType;

/// Types one record field. Missing fields and JSON nulls are NULL.
pub(crate) fn typed(ty: ColumnType, v: Option<&Json>) -> Value {
    let Some(v) = v else { return Value::Null };
    match (ty, v) {
        (_, Json::Null) => Value::Null,
        (ColumnType::Integer, Json::Number(n)) => n.as_i64().map_or(Value::Null, Value::Integer),
        (ColumnType::Integer, Json::String(s)) => {
            s.trim().parse::<i64>().map_or(Value::Null, Value::Integer)
        }
        (ColumnType::Float, Json::Number(n)) => n.as_f64().map_or(Value::Null, Value::Real),
        (ColumnType::Float, Json::String(s)) => {
            s.trim().parse::<f64>().map_or(Value::Null, Value::Real)
        }
        (ColumnType::Boolean, Json::Bool(b)) => Value::Integer(i64::from(*b)),
        (ColumnType::Boolean, Json::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" => Value::Integer(1),
            "false" => Value::Integer(0),
            _ => Value::Null,
        },
        (ColumnType::Timestamp, Json::String(s)) => {
            normalize_timestamp(s).map_or(Value::Null, Value::Text)
        }
        (ColumnType::String, Json::String(s)) => Value::Text(s.clone()),
        // Snowflake's `variant::VARCHAR` of a number, boolean, object or array is its JSON text.
        (ColumnType::String, other) => Value::Text(other.to_string()),
        _ => Value::Null,
    }
}

/// Parses an RFC 3339 instant and formats it as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC), so that
/// text order is time order.
pub(crate) fn normalize_timestamp(s: &str) -> Option<String> {
    let t = DateTime::parse_from_rfc3339(s.trim()).ok()?;
    Some(
        t.with_timezone(&Utc)
            .to_rfc3339_opts(SecondsFormat::Millis, true),
    )
}

/// A stored column value as JSON, in the oracle's format (contract 3).
pub(crate) fn to_json(ty: ColumnType, v: &Value) -> Json {
    match (ty, v) {
        (_, Value::Null) => Json::Null,
        (ColumnType::Boolean, Value::Integer(i)) => Json::Bool(*i != 0),
        (_, Value::Integer(i)) => Json::from(*i),
        (_, Value::Real(f)) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        (_, Value::Text(s)) => Json::String(s.clone()),
        (_, Value::Blob(b)) => Json::String(String::from_utf8_lossy(b).into_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integers_accept_numbers_and_decimal_strings() {
        assert_eq!(
            typed(ColumnType::Integer, Some(&json!(42))),
            Value::Integer(42)
        );
        assert_eq!(
            typed(ColumnType::Integer, Some(&json!(" 42"))),
            Value::Integer(42)
        );
        assert_eq!(typed(ColumnType::Integer, Some(&json!("x"))), Value::Null);
        assert_eq!(typed(ColumnType::Integer, None), Value::Null);
    }

    #[test]
    fn timestamps_are_normalized_to_utc_millis() {
        let v = typed(
            ColumnType::Timestamp,
            Some(&json!("2026-11-24T14:45:01.1+01:00")),
        );
        assert_eq!(v, Value::Text("2026-11-24T13:45:01.100Z".into()));
        assert_eq!(
            typed(ColumnType::Timestamp, Some(&json!("yesterday"))),
            Value::Null
        );
    }

    #[test]
    fn strings_keep_non_string_json_as_text() {
        assert_eq!(
            typed(ColumnType::String, Some(&json!(7))),
            Value::Text("7".into())
        );
        assert_eq!(
            to_json(ColumnType::Boolean, &Value::Integer(1)),
            json!(true)
        );
    }
}
