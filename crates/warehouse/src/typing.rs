//! Typing record fields into column values: the ONE set of accepted input forms that the
//! Snowflake SQL (`snowflake::columns`), this stand-in and the generator's oracle share
//! (table in `sql/README.md`). A value not in an accepted form becomes NULL; a row whose key
//! or event time is NULL is rejected (see [`reject_reason`]).
//!
//! - integer: a JSON integer or a string of an optionally signed integer of at most 18
//!   digits; otherwise a JSON number or numeric string (`42.0`, `"4.2e1"`) whose value is
//!   integral and below 2^53 in magnitude. `42.5`, `"x"`, `true` are not integers.
//! - float: a JSON number or a string `[+-]digits[.digits][e[+-]digits]` (no `inf`/`nan`).
//! - boolean: JSON `true`/`false` or those words as a string, any case.
//! - timestamp: a string `YYYY-MM-DD` `T` or space `HH:MM:SS`, optional `.` and 1–9
//!   fraction digits (truncated to milliseconds), optional offset `Z`, `±HH:MM` or `±HHMM`
//!   (none = UTC); converted to UTC. Epoch numbers are not accepted.
//! - string: a JSON string verbatim; another JSON value as its JSON text.

use chrono::{NaiveDate, NaiveTime};
use rusqlite::types::Value;
use serde_json::Value as Json;

use crate::spec::{ColumnType, TableSpec};

/// Largest magnitude (exclusive) of an integer given in non-integer notation: 2^53, where
/// doubles stop being exact.
pub(crate) const MAX_EXACT_DOUBLE: f64 = 9_007_199_254_740_992.0;

/// Types one record field. Missing fields and JSON nulls are NULL.
pub(crate) fn typed(ty: ColumnType, v: Option<&Json>) -> Value {
    let Some(v) = v else { return Value::Null };
    let text = match v {
        Json::Null => return Value::Null,
        Json::String(s) => s.clone(),
        other => other.to_string(),
    };
    match ty {
        ColumnType::Integer => integer(&text).map_or(Value::Null, Value::Integer),
        ColumnType::Float => float(&text).map_or(Value::Null, Value::Real),
        ColumnType::Boolean => match text.to_ascii_lowercase().as_str() {
            "true" => Value::Integer(1),
            "false" => Value::Integer(0),
            _ => Value::Null,
        },
        ColumnType::Timestamp if v.is_string() => {
            normalize_timestamp(&text).map_or(Value::Null, Value::Text)
        }
        ColumnType::Timestamp => Value::Null,
        // Snowflake's `variant::VARCHAR` of a number, boolean, object or array is its JSON text.
        ColumnType::String => Value::Text(text),
    }
}

/// Why a row is rejected: the first key column, then the event time, that is missing or
/// not in an accepted form; `None` when the row is kept. `fields` is the record object
/// (`None` when the record is not an object: every field is missing).
pub(crate) fn reject_reason(
    checks: &[(&str, ColumnType)],
    fields: Option<&serde_json::Map<String, Json>>,
) -> Option<String> {
    for (name, ty) in checks {
        let v = fields.and_then(|f| f.get(*name)).filter(|v| !v.is_null());
        if v.is_none() {
            return Some(missing_reason(name));
        }
        if typed(*ty, v) == Value::Null {
            return Some(invalid_reason(name, *ty));
        }
    }
    None
}

/// Reject reason of a missing (absent or null) key or event-time field.
pub(crate) fn missing_reason(column: &str) -> String {
    format!("{column}: missing")
}

/// Reject reason of a key or event-time field not in an accepted form.
pub(crate) fn invalid_reason(column: &str, ty: ColumnType) -> String {
    let what = match ty {
        ColumnType::Integer => "not an integer",
        ColumnType::Float => "not a number",
        ColumnType::Boolean => "not a boolean",
        ColumnType::String => "not a string",
        ColumnType::Timestamp => "not a timestamp in an accepted form",
    };
    format!("{column}: {what}")
}

/// `[+-]digits` of at most 18 digits.
fn is_small_integer(s: &str) -> bool {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    (1..=18).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

/// `[+-]digits[.digits*][(e|E)[+-]digits]`.
fn is_decimal(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
    !int.is_empty()
        && digits(int)
        && digits(frac)
        && exponent.is_none_or(|e| {
            let e = e.strip_prefix(['+', '-']).unwrap_or(e);
            !e.is_empty() && digits(e)
        })
}

fn integer(s: &str) -> Option<i64> {
    if is_small_integer(s) {
        return s.parse().ok();
    }
    let f = float(s)?;
    (f.abs() < MAX_EXACT_DOUBLE && f == f.floor()).then_some(f as i64)
}

fn float(s: &str) -> Option<f64> {
    if is_decimal(s) { s.parse().ok() } else { None }
}

/// Parses a timestamp in an accepted form (see the module docs) and formats it as
/// `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC), so that text order is time order.
pub(crate) fn normalize_timestamp(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<u32> {
        let part = s.get(from..from + len)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(num(0, 4)? as i32, num(5, 2)?, num(8, 2)?)?;
    let (h, mi, sec) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    let mut rest = &s[19..];
    let mut millis = 0u32;
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if !(1..=9).contains(&n) {
            return None;
        }
        let padded = format!("{:0<3}", &frac[..n.min(3)]);
        millis = padded.parse().ok()?;
        rest = &frac[n..];
    }
    let offset_minutes: i64 = match rest.as_bytes() {
        [] | [b'Z'] => 0,
        [sign @ (b'+' | b'-'), ..] => {
            let hhmm = rest[1..].replace(':', "");
            let colon = rest.len() == 6 && rest.as_bytes()[3] == b':';
            if !(rest.len() == 5 || colon) || hhmm.len() != 4 {
                return None;
            }
            let (oh, om) = (
                hhmm[..2].parse::<i64>().ok()?,
                hhmm[2..].parse::<i64>().ok()?,
            );
            if !hhmm.bytes().all(|c| c.is_ascii_digit()) || oh > 23 || om > 59 {
                return None;
            }
            let m = oh * 60 + om;
            if *sign == b'-' { -m } else { m }
        }
        _ => return None,
    };
    if h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    let local = date.and_time(NaiveTime::from_hms_milli_opt(h, mi, sec, millis)?);
    let utc = local - chrono::Duration::minutes(offset_minutes);
    Some(utc.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
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

/// Total order of typed values used to break ties between versions: NULL lowest, numbers
/// by value, text by UTF-8 bytes (Snowflake's comparison without a collation).
pub(crate) fn cmp_values(a: &Value, b: &Value) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    match (a, b) {
        (Value::Null, Value::Null) => Equal,
        (Value::Null, _) => Less,
        (_, Value::Null) => Greater,
        (Value::Integer(x), Value::Integer(y)) => x.cmp(y),
        (Value::Real(x), Value::Real(y)) => x.total_cmp(y),
        (Value::Integer(x), Value::Real(y)) => (*x as f64).total_cmp(y),
        (Value::Real(x), Value::Integer(y)) => x.total_cmp(&(*y as f64)),
        (Value::Text(x), Value::Text(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Value::Blob(x), Value::Blob(y)) => x.cmp(y),
        (x, y) => rank(x).cmp(&rank(y)),
    }
}

fn rank(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::Integer(_) | Value::Real(_) => 1,
        Value::Text(_) => 2,
        Value::Blob(_) => 3,
    }
}

/// A raw record (its JSON text) typed column by column as `spec` declares them, and whether
/// it carries the spec's delete marker; a record that is not a JSON object types every column
/// to NULL and is no delete.
pub(crate) fn typed_record(spec: &TableSpec, record: &str) -> (Vec<Value>, bool) {
    let parsed = serde_json::from_str::<Json>(record).ok();
    let obj = parsed.as_ref().and_then(Json::as_object);
    let values = spec
        .columns
        .iter()
        .map(|c| typed(c.ty, obj.and_then(|o| o.get(&c.name))))
        .collect();
    let is_deleted = obj
        .and_then(|o| o.get(&spec.delete_marker.column))
        .and_then(Json::as_str)
        .is_some_and(|op| op == spec.delete_marker.value);
    (values, is_deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn int(v: Json) -> Value {
        typed(ColumnType::Integer, Some(&v))
    }

    fn ts(s: &str) -> Option<String> {
        normalize_timestamp(s)
    }

    #[test]
    fn integers_accept_integral_values_only() {
        for v in [
            json!(42),
            json!("42"),
            json!("+42"),
            json!(42.0),
            json!("42.0"),
        ] {
            assert_eq!(int(v.clone()), Value::Integer(42), "{v}");
        }
        assert_eq!(int(json!("4.2e1")), Value::Integer(42));
        assert_eq!(int(json!(-7)), Value::Integer(-7));
        for v in [
            json!(42.5),
            json!("x"),
            json!(" 42"),
            json!(true),
            json!("1e300"),
            json!(1_000_000_000_000_000_000u64),
            json!("inf"),
            json!({}),
        ] {
            assert_eq!(int(v.clone()), Value::Null, "{v}");
        }
        assert_eq!(typed(ColumnType::Integer, None), Value::Null);
    }

    #[test]
    fn timestamps_in_every_accepted_form_are_utc_millis() {
        let want = Some("2026-11-24T13:45:01.100Z".to_string());
        for s in [
            "2026-11-24T14:45:01.1+01:00",
            "2026-11-24T14:45:01.1+0100",
            "2026-11-24 13:45:01.1Z",
            "2026-11-24 13:45:01.100999999",
            "2026-11-24T12:15:01.1-01:30",
        ] {
            assert_eq!(ts(s), want, "{s}");
        }
        assert_eq!(
            ts("2026-11-24T13:45:01"),
            Some("2026-11-24T13:45:01.000Z".into())
        );
        assert_eq!(
            ts("2026-11-24T00:30:00+02:00"),
            Some("2026-11-23T22:30:00.000Z".into())
        );
        for s in [
            "yesterday",
            "2026-02-30T00:00:00Z",
            "2026-11-24T24:00:00Z",
            "2026-11-24T13:45:60Z",
            "2026-11-24T13:45:01.Z",
            "2026-11-24T13:45:01.1234567890Z",
            "2026-11-24T13:45:01+24:00",
            "2026-11-24T13:45:01+01",
            "2026-11-24T13:45:01 +01:00",
            " 2026-11-24T13:45:01Z",
            "2026-11-24t13:45:01z",
            "1700000000",
        ] {
            assert_eq!(ts(s), None, "{s}");
        }
        assert_eq!(
            typed(ColumnType::Timestamp, Some(&json!(1_700_000_000))),
            Value::Null
        );
    }

    #[test]
    fn rejects_name_the_first_bad_key_or_event_time() {
        let checks = [
            ("id", ColumnType::Integer),
            ("updated_at", ColumnType::Timestamp),
        ];
        let rec = |v: Json| v.as_object().cloned();
        let r = rec(json!({"id": 1, "updated_at": "2026-11-24T13:45:01Z"}));
        assert_eq!(reject_reason(&checks, r.as_ref()), None);
        let r = rec(json!({"id": null, "updated_at": "x"}));
        assert_eq!(reject_reason(&checks, r.as_ref()).unwrap(), "id: missing");
        let r = rec(json!({"id": 1.5, "updated_at": "x"}));
        assert_eq!(
            reject_reason(&checks, r.as_ref()).unwrap(),
            "id: not an integer"
        );
        let r = rec(json!({"id": "7", "updated_at": 17}));
        assert_eq!(
            reject_reason(&checks, r.as_ref()).unwrap(),
            "updated_at: not a timestamp in an accepted form"
        );
        assert_eq!(reject_reason(&checks, None).unwrap(), "id: missing");
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
        assert_eq!(
            typed(ColumnType::Boolean, Some(&json!("TRUE"))),
            Value::Integer(1)
        );
    }
}
