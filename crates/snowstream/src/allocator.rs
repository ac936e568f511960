//! How long the allocator keeps freed memory before giving it back to the OS.
//!
//! The binaries use mimalloc (v3, as the `mimalloc` crate builds it), whose default purge
//! delay is 1,000 ms: memory freed after a burst (a multipart Complete's chunks, a batch file
//! being encoded) stays resident for a second, so two 24 MiB uploads in flight peaked at
//! 311-364 MiB RSS (with the 8 MiB chunks of then). At 100 ms the same load peaked at ~216
//! MiB with bulk throughput unchanged; at 10 ms (mimalloc v2's default) bulk lost ~15% to
//! re-faulting fresh pages (docs/performance.md, "Fifth round", item 7).

/// The purge delay snowstream sets, in milliseconds.
pub const PURGE_DELAY_MS: i64 = 100;

/// `mi_option_purge_delay` in mimalloc v3's `mi_option_e` (libmimalloc-sys exposes the
/// functions but not this constant; it follows `mi_option_eager_commit_delay` = 14).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Sets the purge delay to [`PURGE_DELAY_MS`] unless `MIMALLOC_PURGE_DELAY` set it. Call it
/// first thing in `main`, before any thread starts (mimalloc's options are not thread safe).
pub fn tune() {
    // SAFETY: a plain store into mimalloc's option table, made before any other thread
    // exists; an option set from the environment (MIMALLOC_PURGE_DELAY) is left as it is.
    unsafe { libmimalloc_sys::mi_option_set_default(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS as _) };
}

#[cfg(test)]
mod tests {
    use super::{MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS, tune};

    fn get() -> i64 {
        // SAFETY: reads mimalloc's option table.
        unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) as i64 }
    }

    #[test]
    fn tune_sets_the_purge_delay_unless_the_environment_did() {
        match std::env::var("MIMALLOC_PURGE_DELAY") {
            Err(_) => {
                // Index 15 is the purge delay: v3's default for it (src/options.c) is 1,000.
                assert_eq!(get(), 1000, "mimalloc's purge delay before tune");
                tune();
                assert_eq!(get(), PURGE_DELAY_MS);
            }
            Ok(v) => {
                tune();
                assert_eq!(
                    get().to_string(),
                    v.trim(),
                    "the environment's value is kept"
                );
            }
        }
    }
}
