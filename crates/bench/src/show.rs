//! How every report of the benchmark shows a size and a goal: one leaf module, so the
//! reports of each phase and the summary that calls them share it without importing each
//! other.

/// Bytes as whole MiB.
pub fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// `MET` / `NOT MET`.
pub fn verdict(met: bool) -> &'static str {
    if met { "MET" } else { "NOT MET" }
}
