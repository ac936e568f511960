//! The value types of settings, and the one syntax each is written in.
//!
//! Sizes and durations have one syntax ([`parse_size`], [`parse_duration`]), shared by every
//! command line: `serve`, `snowstream-gen` and `snowstream-bench`.
//! A value parses with its `FromStr` whether it comes from a flag, an environment variable or
//! the TOML file (where a number, a boolean or an array of strings is read as its text), so
//! `30s`, `128MiB` or `zstd:3` mean the same everywhere.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// A setting's value: something that may be left blank (an empty string means "not set").
pub trait Value: Clone {
    /// True for a blank value, which counts as not set, so a lower layer's value shows through.
    fn is_blank(&self) -> bool {
        false
    }
}

impl Value for String {
    fn is_blank(&self) -> bool {
        self.trim().is_empty()
    }
}
impl Value for PathBuf {
    fn is_blank(&self) -> bool {
        self.as_os_str().is_empty()
    }
}
impl Value for u16 {}
impl Value for u64 {}
impl Value for bool {}
impl Value for SocketAddr {}
impl Value for landing::AckMode {}
impl Value for landing::Compression {}
impl Value for server::OnParseError {}
impl Value for records::landed::Envelope {}
impl Value for Format {}

/// The record format of a stream.
pub use records::Format;

/// The upper layer's value unless it is unset or blank, else the lower one's (same rule).
pub fn pick<T: Value>(upper: Option<T>, lower: Option<T>) -> Option<T> {
    upper
        .filter(|v| !v.is_blank())
        .or_else(|| lower.filter(|v| !v.is_blank()))
}

/// A setting's declared default: the text a flag would carry (`"0.0.0.0:8080"`), or a
/// library's own default as [`Lib`], declared once there and shown as a flag would write it.
pub trait Declared<T> {
    /// The value.
    fn value(&self) -> T;
    /// As `--help` and the README show it; parses back to [`Self::value`].
    fn text(&self) -> String;
}

impl<T: FromStr<Err: std::fmt::Display>> Declared<T> for &'static str {
    fn value(&self) -> T {
        self.parse()
            .unwrap_or_else(|e| panic!("the declared default {self:?} does not parse: {e}"))
    }
    fn text(&self) -> String {
        (*self).to_owned()
    }
}

/// A library's default (`server::defaults`, `landing::defaults`) taken as a setting's.
pub struct Lib<T>(pub T);

impl<T: Clone + std::fmt::Display> Declared<T> for Lib<T> {
    fn value(&self) -> T {
        self.0.clone()
    }
    fn text(&self) -> String {
        self.0.to_string()
    }
}

/// A byte size: `128MiB`, `64MB`, `1GiB`, `1000` (bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size(pub u64);

impl FromStr for Size {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        parse_size(s).map(Size)
    }
}
impl Value for Size {}

/// The largest binary unit that writes it whole: `256MiB`, `1GiB`, `1000`.
impl std::fmt::Display for Size {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let units = [
            (1u64 << 40, "TiB"),
            (1 << 30, "GiB"),
            (1 << 20, "MiB"),
            (1 << 10, "KiB"),
        ];
        match units
            .iter()
            .find(|(u, _)| self.0 >= *u && self.0.is_multiple_of(*u))
        {
            Some((u, name)) => write!(f, "{}{name}", self.0 / u),
            None => write!(f, "{}", self.0),
        }
    }
}

/// A duration: `30s`, `1m`, `1h 30m`, `7d`, `250ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dur(pub Duration);

impl FromStr for Dur {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        parse_duration(s).map(Dur)
    }
}
impl Value for Dur {}

/// Whole days as `7d`, else seconds (`60s`) or milliseconds (`250ms`).
impl std::fmt::Display for Dur {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = self.0;
        if d.subsec_nanos() != 0 {
            write!(f, "{}ms", d.as_millis())
        } else if d.as_secs() > 0 && d.as_secs().is_multiple_of(86_400) {
            write!(f, "{}d", d.as_secs() / 86_400)
        } else {
            write!(f, "{}s", d.as_secs())
        }
    }
}

/// A comma-separated list (a TOML array of strings is the same list). Blank items are dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct List(pub Vec<String>);

impl FromStr for List {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(List(
            s.split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .collect(),
        ))
    }
}
impl std::fmt::Display for List {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join(","))
    }
}

impl From<&[&str]> for List {
    fn from(items: &[&str]) -> Self {
        List(items.iter().map(|i| (*i).to_owned()).collect())
    }
}

impl Value for List {
    fn is_blank(&self) -> bool {
        self.0.is_empty()
    }
}

/// Where landed files go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkKind {
    /// A folder on this machine.
    Local,
    /// An S3 bucket.
    S3,
}

impl FromStr for SinkKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "local" => Ok(SinkKind::Local),
            "s3" => Ok(SinkKind::S3),
            other => Err(format!("unknown sink {other:?} (expected local or s3)")),
        }
    }
}
impl Value for SinkKind {}

/// The HTTP versions HTTPS offers in ALPN, as NiFi ListenHTTP's *HTTP Protocols*
/// (`HttpProtocolStrategy`: `HTTP_1_1` "http/1.1", the default; `H2_HTTP_1_1` "h2 http/1.1";
/// `H2` "h2"). Either spelling is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpProtocols {
    /// HTTP/1.1 only.
    Http1,
    /// HTTP/2 or HTTP/1.1, as the client asks (HTTP/2 first).
    H2Http1,
    /// HTTP/2 only.
    H2,
}

impl HttpProtocols {
    /// The ALPN protocol ids offered, most preferred first.
    pub fn alpn(self) -> Vec<Vec<u8>> {
        let ids: &[&[u8]] = match self {
            HttpProtocols::Http1 => &[b"http/1.1"],
            HttpProtocols::H2Http1 => &[b"h2", b"http/1.1"],
            HttpProtocols::H2 => &[b"h2"],
        };
        ids.iter().map(|id| id.to_vec()).collect()
    }
}

impl FromStr for HttpProtocols {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let words: Vec<String> = s.split_whitespace().map(str::to_ascii_lowercase).collect();
        match words.join(" ").as_str() {
            "http/1.1" | "http_1_1" => Ok(HttpProtocols::Http1),
            "h2 http/1.1" | "h2_http_1_1" => Ok(HttpProtocols::H2Http1),
            "h2" => Ok(HttpProtocols::H2),
            other => Err(format!(
                "unknown HTTP protocols {other:?} (expected \"http/1.1\", \"h2 http/1.1\" or \"h2\")"
            )),
        }
    }
}
impl Value for HttpProtocols {}

/// Whether HTTPS asks for client certificates, as NiFi ListenHTTP's *Client Authentication*
/// (ListenHTTP.java at rel/nifi-1.28.1, lines 99-107 and 495-527).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// REQUIRED with `--tls-client-ca`, else NONE.
    Auto,
    /// A certificate is asked for and, if sent, verified and authorized; a client without
    /// one goes on to the other credentials (bearer token, Basic), or in when none is set.
    Want,
    /// No certificate signed by `--tls-client-ca`, no connection.
    Required,
    /// No certificate is asked for.
    None,
}

impl ClientAuth {
    /// With a CA bundle set: whether a client must present a certificate.
    pub fn requires_certificate(self) -> bool {
        self != ClientAuth::Want
    }
}

impl FromStr for ClientAuth {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_uppercase().as_str() {
            "AUTO" => Ok(ClientAuth::Auto),
            "WANT" => Ok(ClientAuth::Want),
            "REQUIRED" => Ok(ClientAuth::Required),
            "NONE" => Ok(ClientAuth::None),
            other => Err(format!(
                "unknown client authentication {other:?} (expected AUTO, WANT, REQUIRED or NONE)"
            )),
        }
    }
}
impl Value for ClientAuth {}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!(
                "unknown log format {other:?} (expected text or json)"
            )),
        }
    }
}
impl Value for LogFormat {}

/// What a TOML value is read as before its text goes through the setting's `FromStr`.
#[derive(Deserialize)]
#[serde(untagged)]
enum Raw {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    List(Vec<String>),
}

/// serde `deserialize_with` for every setting: the TOML value's text, parsed like a flag.
pub fn parsed<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: fmt::Display,
{
    let text = match Raw::deserialize(d)? {
        Raw::Text(s) => s,
        Raw::Int(i) => i.to_string(),
        Raw::Float(f) => f.to_string(),
        Raw::Bool(b) => b.to_string(),
        Raw::List(v) => v.join(","),
    };
    text.parse()
        .map(Some)
        .map_err(|e| serde::de::Error::custom(format!("{e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_syntax_for_sizes_durations_and_lists() {
        assert_eq!("128MiB".parse::<Size>().unwrap(), Size(128 << 20));
        assert_eq!("1000".parse::<Size>().unwrap(), Size(1000));
        assert!("lots".parse::<Size>().is_err());
        assert_eq!(
            "1h 30m".parse::<Dur>().unwrap(),
            Dur(Duration::from_secs(5400))
        );
        assert!("soon".parse::<Dur>().unwrap_err().contains("bad duration"));
        assert_eq!("a, b,,c".parse::<List>().unwrap().0, ["a", "b", "c"]);
        assert!(" , ".parse::<List>().unwrap().is_blank());
    }

    #[test]
    fn blank_upper_values_let_the_lower_layer_through() {
        assert_eq!(
            pick(Some(" ".to_string()), Some("b".into())),
            Some("b".into())
        );
        assert_eq!(
            pick(Some("a".to_string()), Some("b".into())),
            Some("a".into())
        );
        assert_eq!(pick::<String>(Some("".into()), None), None);
        assert_eq!(pick(None, Some(7u64)), Some(7));
    }
}

// The one syntax of durations and sizes on every snowstream command line (`serve` settings,
// `snowstream-gen`, `snowstream-bench`): humantime durations (`500ms`, `30s`, `1h 30m`, `7d`;
// a bare number is seconds and a single unit may take a decimal amount, `1.5m`) and bytesize
// sizes (`128MiB`, `64MB`, `1000`).

/// A duration, e.g. `500ms`, `30s`, `1h 30m`, `90` (seconds) or `1.5m`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let bad = |e: &dyn std::fmt::Display| {
        format!("bad duration {s:?} (e.g. 500ms, 30s, 5m, 1h 30m): {e}")
    };
    let humantime_err = match humantime::parse_duration(s) {
        Ok(d) => return Ok(d),
        Err(e) => e,
    };
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (amount, unit) = s.split_at(split);
    let amount: f64 = amount.parse().map_err(|_| bad(&humantime_err))?;
    let unit = match unit.trim() {
        "" => Duration::from_secs(1),
        u => humantime::parse_duration(&format!("1{u}")).map_err(|_| bad(&humantime_err))?,
    };
    Duration::try_from_secs_f64(unit.as_secs_f64() * amount).map_err(|e| bad(&e))
}

/// A size in bytes, e.g. `128MiB`, `64MB` (decimal), `1000`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    s.trim()
        .parse::<bytesize::ByteSize>()
        .map(|b| b.as_u64())
        .map_err(|e| format!("bad size {s:?} (e.g. 128MiB, 64MB, 1000): {e}"))
}

#[cfg(test)]
mod units_tests {
    use super::*;
    use std::time::Duration;
    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5m"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert!(parse_duration("soon").is_err());
        // humantime, like snowstream's settings: days and sums of units parse too.
        assert_eq!(
            parse_duration("5 days"),
            Ok(Duration::from_secs(5 * 86_400))
        );
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert!(parse_duration("5 parsecs").unwrap_err().contains("unit"));
    }

    #[test]
    fn parses_durations_and_sizes() {
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1m").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        // One syntax with snowstream's settings: humantime, so hours and sums parse too.
        assert_eq!(parse_duration("3h").unwrap(), Duration::from_secs(3 * 3600));
        assert_eq!(parse_duration("1h 30m").unwrap(), Duration::from_secs(5400));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("3 parsecs").is_err());
        assert_eq!(parse_size("1MiB").unwrap(), 1 << 20);
        assert_eq!(parse_size("4GiB").unwrap(), 4 << 30);
        assert_eq!(parse_size("512").unwrap(), 512);
        assert_eq!(parse_size("64KiB").unwrap(), 64 << 10);
        // bytesize: decimal units are decimal.
        assert_eq!(parse_size("64MB").unwrap(), 64_000_000);
        assert_eq!(parse_size("1TB").unwrap(), 1_000_000_000_000);
        assert!(parse_size("1 parsec").is_err());
        assert!(parse_size("lots").is_err());
    }
}
