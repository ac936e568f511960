//! Fault injection shared by the spool and queue fault tests and the chaos runner.

/// Makes a write that crosses RLIMIT_FSIZE fail with EFBIG instead of killing the process
/// with SIGXFSZ: in this process, and in every child spawned after (an ignored signal stays
/// ignored across exec).
pub fn ignore_file_size_signal() {
    // SAFETY: plain libc call with valid arguments.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

/// Caps how large a file this process may write (RLIMIT_FSIZE), so a write that crosses the
/// cap is cut short and fails with EFBIG, as a full disk cuts it short with ENOSPC. SIGXFSZ
/// is ignored so the write returns the error instead of killing the process. The limit is
/// process-wide: a test using it runs alone (the `serial` test binary of its crate holds one lock per test). `libc::RLIM_INFINITY` lifts it.
pub fn limit_file_size(bytes: u64) {
    ignore_file_size_signal();
    let limit = libc::rlimit {
        rlim_cur: bytes,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: plain libc call with valid arguments.
    unsafe {
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &limit), 0);
    }
}

/// [`limit_file_size`] for another process (prlimit(2)): a disk-full episode for a running
/// child, which must have been spawned after [`ignore_file_size_signal`]. Lift it with
/// `libc::RLIM_INFINITY`.
pub fn limit_process_file_size(pid: u32, bytes: u64) -> std::io::Result<()> {
    let limit = libc::rlimit {
        rlim_cur: bytes,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: prlimit(2) on a pid with a valid new limit and no old-limit out pointer.
    let rc = unsafe {
        libc::prlimit(
            pid as libc::pid_t,
            libc::RLIMIT_FSIZE,
            &limit,
            std::ptr::null_mut(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// A batch of one record `{"id":id}` from a FlowFile named `f`.
pub fn id_batch(id: u64) -> records::Batch {
    let mut b = records::Batch::new(chrono::Utc::now());
    b.begin_group(&[("filename", "f")]);
    b.push_record(format!("{{\"id\":{id}}}").as_bytes());
    b
}
