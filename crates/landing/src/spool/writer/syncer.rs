//! The spool writer's fsync thread: runs one segment `fdatasync` at a time while the writer
//! goes on appending the next group, and reports each result through a callback (the writer
//! puts it on its own channel), so the writer waits for one channel, never for the disk.

use std::fs::File;
use std::io;
use std::sync::mpsc::{self, Sender};
use std::thread::JoinHandle;

/// One `fdatasync` of the open segment, covering every byte written to it before
/// [`PendingSync::new`].
pub(crate) struct PendingSync {
    file: File,
}

impl PendingSync {
    /// `file` is a handle to the segment (its own descriptor).
    pub fn new(file: File) -> Self {
        PendingSync { file }
    }

    fn run(&self) -> io::Result<()> {
        // The same failpoint as the writer's own segment sync: a fault test fails either.
        fail::fail_point!("spool-segment-sync", |arg| Err(
            crate::error::injected_io_error(arg)
        ));
        self.file.sync_data()
    }
}

/// The thread and where to hand it work; dropping it stops the thread.
pub(crate) struct Syncer {
    jobs: Option<Sender<PendingSync>>,
    thread: Option<JoinHandle<()>>,
}

impl Syncer {
    /// Starts the thread for stream `name`; each result goes to `done`, and the thread stops
    /// when that returns false (nobody listens any more).
    pub fn start(
        name: &str,
        done: impl Fn(io::Result<()>) -> bool + Send + 'static,
    ) -> io::Result<Syncer> {
        let (jobs, rx) = mpsc::channel::<PendingSync>();
        let thread = std::thread::Builder::new()
            .name(format!("spool-sync-{name}"))
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    let result = job.run();
                    drop(job);
                    if !done(result) {
                        break;
                    }
                }
            })?;
        Ok(Syncer {
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    /// Hands `job` to the thread; gives it back when the thread is gone.
    pub fn submit(&self, job: PendingSync) -> Result<(), PendingSync> {
        match &self.jobs {
            Some(jobs) => jobs.send(job).map_err(|e| e.0),
            None => Err(job),
        }
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
