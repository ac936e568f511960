//! The customer change record of contract 2 and its event-time type.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Column names in contract-2 order (also the CSV header).
pub const COLUMNS: [&str; 9] = [
    "id",
    "name",
    "phone_number",
    "email",
    "address",
    "country",
    "job",
    "updated_at",
    "op",
];

/// The operation a change event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    /// `I`: a new customer (or one coming back after a delete).
    Insert,
    /// `U`: some fields of an existing customer changed.
    Update,
    /// `D`: the customer was deleted; the record carries the row as it was.
    Delete,
}

impl Op {
    /// The one-letter code used on the wire (`I`, `U`, `D`).
    pub fn code(self) -> &'static str {
        match self {
            Op::Insert => "I",
            Op::Update => "U",
            Op::Delete => "D",
        }
    }
}

impl FromStr for Op {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "I" => Ok(Op::Insert),
            "U" => Ok(Op::Update),
            "D" => Ok(Op::Delete),
            other => Err(format!("op must be I, U or D, not {other:?}")),
        }
    }
}

impl Serialize for Op {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Op {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An event time with millisecond precision, written as RFC 3339 UTC with exactly three
/// fractional digits (`2026-11-24T13:45:01.123Z`), so that string order equals time order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventTime(i64);

impl EventTime {
    const FORMAT: &'static str = "%Y-%m-%dT%H:%M:%S%.3fZ";

    /// From milliseconds since the Unix epoch.
    pub fn from_millis(ms: i64) -> Self {
        EventTime(ms)
    }

    /// Milliseconds since the Unix epoch.
    pub fn millis(self) -> i64 {
        self.0
    }

    /// From a chrono time (sub-millisecond digits are dropped).
    pub fn from_datetime(t: DateTime<Utc>) -> Self {
        EventTime(t.timestamp_millis())
    }

    /// As a chrono time.
    pub fn to_datetime(self) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(self.0)
            .single()
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }
}

impl fmt::Display for EventTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_datetime().format(Self::FORMAT))
    }
}

impl FromStr for EventTime {
    type Err = String;
    /// Accepts any RFC 3339 time (converted to UTC, truncated to milliseconds) and the
    /// offset-less `YYYY-MM-DD HH:MM:SS[.fff]` form as UTC.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Ok(t) = DateTime::parse_from_rfc3339(s) {
            return Ok(EventTime::from_datetime(t.with_timezone(&Utc)));
        }
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")
            .map(|t| EventTime::from_datetime(t.and_utc()))
            .map_err(|_| format!("{s:?} is not an RFC 3339 time such as 2026-11-24T13:45:01.123Z"))
    }
}

impl Serialize for EventTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EventTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One change event: a full snapshot of the customer row plus the operation (contract 2).
/// Field order is the wire order of every format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    pub id: u64,
    pub name: String,
    pub phone_number: String,
    pub email: String,
    pub address: String,
    pub country: String,
    pub job: String,
    pub updated_at: EventTime,
    pub op: Op,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_time_is_rfc3339_utc_with_milliseconds() {
        let t: EventTime = "2026-11-24T14:45:01.1239+01:00".parse().unwrap();
        assert_eq!(t.to_string(), "2026-11-24T13:45:01.123Z");
        assert_eq!(
            EventTime::from_millis(0).to_string(),
            "1970-01-01T00:00:00.000Z"
        );
        assert_eq!(
            "2026-11-24 13:45:01"
                .parse::<EventTime>()
                .unwrap()
                .to_string(),
            "2026-11-24T13:45:01.000Z"
        );
        assert!("yesterday".parse::<EventTime>().is_err());
    }

    #[test]
    fn op_round_trips_through_json() {
        for op in [Op::Insert, Op::Update, Op::Delete] {
            let s = serde_json::to_string(&op).unwrap();
            assert_eq!(s, format!("\"{}\"", op.code()));
            assert_eq!(serde_json::from_str::<Op>(&s).unwrap(), op);
        }
        assert!(serde_json::from_str::<Op>("\"X\"").is_err());
    }
}
