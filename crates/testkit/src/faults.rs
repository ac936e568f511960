//! Fault injection shared by the spool and queue fault tests.

/// Caps how large a file this process may write (RLIMIT_FSIZE), so a write that crosses the
/// cap is cut short and fails with EFBIG, as a full disk cuts it short with ENOSPC. SIGXFSZ
/// is ignored so the write returns the error instead of killing the process. The limit is
/// process-wide: a test using it runs alone in its own binary. `libc::RLIM_INFINITY` lifts it.
pub fn limit_file_size(bytes: u64) {
    let limit = libc::rlimit {
        rlim_cur: bytes,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: plain libc calls with valid arguments.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &limit), 0);
    }
}

/// A batch of one record `{"id":id}` from a FlowFile named `f`.
pub fn id_batch(id: u64) -> records::Batch {
    let mut b = records::Batch::new(chrono::Utc::now());
    b.begin_group(&[("filename", "f")]);
    b.push_record(format!("{{\"id\":{id}}}").as_bytes());
    b
}
