//! The one syntax of durations and sizes on every snowstream command line (`snowstream
//! serve` settings, `snowstream-gen`, `snowstream-bench`): humantime durations (`500ms`,
//! `30s`, `1h 30m`, `7d`; a bare number is seconds and a single unit may take a decimal
//! amount, `1.5m`) and bytesize sizes (`128MiB`, `64MB`, `1000`).

use std::fmt::Display;
use std::time::Duration;

/// A duration, e.g. `500ms`, `30s`, `1h 30m`, `90` (seconds) or `1.5m`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let bad = |e: &dyn Display| format!("bad duration {s:?} (e.g. 500ms, 30s, 5m, 1h 30m): {e}");
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
mod tests {
    use super::*;

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
