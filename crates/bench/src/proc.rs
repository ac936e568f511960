//! Process figures from `/proc/self`: resident memory (current and peak, with a peak reset
//! between scenarios) and CPU time per thread, grouped by what the thread does.

use std::collections::HashMap;
use std::fs;

/// Linux reports CPU times in clock ticks; USER_HZ is 100 on every mainstream kernel.
const TICKS_PER_SEC: f64 = 100.0;

/// `(VmHWM, VmRSS)` in bytes, from `/proc/self/status`.
pub fn memory() -> (Option<u64>, Option<u64>) {
    let Ok(status) = fs::read_to_string("/proc/self/status") else {
        return (None, None);
    };
    (
        status_field(&status, "VmHWM"),
        status_field(&status, "VmRSS"),
    )
}

/// `/proc/PID/status` of another process (a `snowstream serve` child); None once it is gone.
pub fn status_of(pid: u32) -> Option<String> {
    fs::read_to_string(format!("/proc/{pid}/status")).ok()
}

/// The peak resident set (`VmHWM`, bytes) of another process; None once it is gone.
pub fn peak_rss_of(pid: u32) -> Option<u64> {
    status_field(&status_of(pid)?, "VmHWM")
}

/// A field of a `/proc/PID/status` text (proc(5)): a `Name:   123 kB` size in bytes, or a
/// plain count (`Threads`) as it is.
pub fn status_field(status: &str, name: &str) -> Option<u64> {
    let rest = status.lines().find_map(|l| l.strip_prefix(name))?;
    let rest = rest.strip_prefix(':')?.trim();
    match rest.strip_suffix("kB") {
        Some(kb) => kb.trim().parse::<u64>().ok().map(|k| k << 10),
        None => rest.parse().ok(),
    }
}

/// Resets the peak-RSS mark to the current RSS (Linux ≥ 4.0). False where not allowed.
pub fn reset_peak() -> bool {
    fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// CPU seconds used so far, by the whole process and by each live thread.
#[derive(Debug, Clone, Default)]
pub struct CpuSample {
    process: f64,
    threads: HashMap<u32, (String, f64)>,
}

pub fn cpu_sample() -> CpuSample {
    let mut sample = CpuSample {
        process: fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|s| stat_cpu(&s))
            .map_or(0.0, |(_, t)| t),
        threads: HashMap::new(),
    };
    if let Ok(dir) = fs::read_dir("/proc/self/task") {
        for entry in dir.flatten() {
            let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
                continue;
            };
            if let Some((name, t)) = fs::read_to_string(entry.path().join("stat"))
                .ok()
                .and_then(|s| stat_cpu(&s))
            {
                sample.threads.insert(tid, (name, t));
            }
        }
    }
    sample
}

/// `(comm, utime + stime in seconds)` from a `/proc/.../stat` line.
fn stat_cpu(stat: &str) -> Option<(String, f64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?.to_owned();
    let fields: Vec<&str> = stat.get(close + 2..)?.split_whitespace().collect();
    // Fields after the name start at field 3 (state); utime is field 14, stime 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((name, (utime + stime) as f64 / TICKS_PER_SEC))
}

/// CPU seconds spent between two samples, by thread group.
#[derive(Debug, Clone, Default)]
pub struct CpuUse {
    pub process: f64,
    /// `(group, seconds)`, in a fixed order.
    pub groups: Vec<(&'static str, f64)>,
}

impl CpuUse {
    /// CPU seconds of every thread but the load generator's (`load-*`): the server's own.
    pub fn without_load_generator(&self) -> f64 {
        let load = GROUPS
            .iter()
            .find(|(prefix, _)| *prefix == LOAD_PREFIX)
            .map(|(_, label)| *label);
        let spent: f64 = self
            .groups
            .iter()
            .filter(|(label, _)| Some(*label) == load)
            .map(|(_, s)| s)
            .sum();
        (self.process - spent).max(0.0)
    }
}

/// Thread-name prefix of the load generator's runtime (harness.rs names it).
const LOAD_PREFIX: &str = "load-";

/// Thread groups, by thread-name prefix (names are set in main.rs and by `landing`).
pub const GROUPS: [(&str, &str); 5] = [
    ("srv-w", "server runtime workers (HTTP, handlers)"),
    (
        "srv-blk",
        "server blocking pool (record parse, zstd encode, file put)",
    ),
    ("spool-", "spool writer threads (append + fsync)"),
    (LOAD_PREFIX, "load generator (client runtime)"),
    ("", "other threads"),
];

pub fn cpu_between(before: &CpuSample, after: &CpuSample) -> CpuUse {
    let mut totals = vec![0.0; GROUPS.len()];
    for (tid, (name, t)) in &after.threads {
        let start = before.threads.get(tid).map_or(0.0, |(_, s)| *s);
        let g = GROUPS
            .iter()
            .position(|(prefix, _)| name.starts_with(prefix))
            .unwrap_or(GROUPS.len() - 1);
        totals[g] += (t - start).max(0.0);
    }
    let process = (after.process - before.process).max(0.0);
    let mut groups: Vec<(&'static str, f64)> = GROUPS
        .iter()
        .zip(totals)
        .map(|((_, label), t)| (*label, t))
        .collect();
    // Threads that exited in between (idle blocking-pool threads) are only in the total.
    let seen: f64 = groups.iter().map(|(_, t)| t).sum();
    if process - seen > 0.02 {
        groups.push(("exited threads (unattributed)", process - seen));
    }
    CpuUse { process, groups }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_status_fields_in_bytes_and_counts() {
        let s = "Name:\tsnowstream\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nRssAnon:\t   90000 kB\nThreads:\t12\n";
        assert_eq!(status_field(s, "VmHWM"), Some(200 << 20));
        assert_eq!(status_field(s, "VmRSS"), Some(100 << 20));
        assert_eq!(status_field(s, "RssAnon"), Some(90_000 << 10));
        assert_eq!(status_field(s, "Threads"), Some(12));
        assert_eq!(status_field(s, "RssFile"), None);
    }

    #[test]
    fn parses_stat_lines_with_spaces_and_parens_in_the_name() {
        let line = "1234 (srv-w (x) 1) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 4 0 100 0 0";
        let (name, secs) = stat_cpu(line).unwrap();
        assert_eq!(name, "srv-w (x) 1");
        assert!((secs - 3.0).abs() < 1e-9);
    }

    #[test]
    fn reads_own_memory_and_cpu() {
        let (hwm, rss) = memory();
        let (hwm, rss) = (hwm.unwrap(), rss.unwrap());
        assert!(rss > 0 && hwm >= rss);
        let s = cpu_sample();
        assert!(!s.threads.is_empty());
    }

    #[test]
    fn groups_threads_by_name_and_counts_new_threads_from_zero() {
        let mut before = CpuSample::default();
        before.threads.insert(1, ("srv-w0".into(), 1.0));
        before.process = 1.0;
        let mut after = before.clone();
        after.threads.insert(1, ("srv-w0".into(), 3.0));
        after.threads.insert(2, ("spool-customers".into(), 0.5));
        after.process = 4.0;
        let u = cpu_between(&before, &after);
        assert!((u.process - 3.0).abs() < 1e-9);
        assert!((u.groups[0].1 - 2.0).abs() < 1e-9);
        assert!((u.groups[2].1 - 0.5).abs() < 1e-9);
        let last = u.groups.last().unwrap();
        assert_eq!(last.0, "exited threads (unattributed)");
        assert!((last.1 - 0.5).abs() < 1e-9);
    }
}
