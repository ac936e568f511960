//! The process the rows run in: a "server" runtime with both targets (snowstream's
//! receiver and S3 front door, and the bare handlers) and a separate load generator runtime,
//! so CPU time can be attributed per thread group.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::runtime::Runtime;

use crate::cli::Cli;
use crate::{s3load, targets};

/// Everything the rows run against; [`Harness::shutdown`] stops it.
pub struct Harness {
    pub server_rt: Runtime,
    pub client_rt: Runtime,
    /// Holds the spool and landing folders.
    pub dir: tempfile::TempDir,
    pub snow: targets::Snowstream,
    pub bare: SocketAddr,
    /// snowstream's S3 front door.
    pub s3: SocketAddr,
    pub bare_s3: SocketAddr,
}

/// The server runtime. Worker threads are the first `threads` it starts; later ones are its
/// blocking pool. Names let the CPU breakdown tell them apart.
fn server_runtime(threads: usize) -> Result<Runtime> {
    let spawned = Arc::new(AtomicUsize::new(0));
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name_fn(move || {
            let n = spawned.fetch_add(1, Ordering::Relaxed);
            if n < threads {
                format!("srv-w{n}")
            } else {
                "srv-blk".into()
            }
        })
        .enable_all()
        .build()
        .context("building the server runtime")
}

impl Harness {
    /// Builds both runtimes, the bench directory and all four targets, and prints where
    /// they listen.
    pub fn start(cli: &Cli, server_threads: usize) -> Result<Harness> {
        let server_rt = server_runtime(server_threads)?;
        let client_rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cli.client_threads.max(1))
            .thread_name("load-rt")
            .enable_all()
            .build()
            .context("building the load generator runtime")?;

        let mut tmp = tempfile::Builder::new();
        tmp.prefix("snowstream-bench-").disable_cleanup(cli.keep);
        let dir = match &cli.dir {
            Some(d) => tmp.tempdir_in(d),
            None => tmp.tempdir(),
        }
        .context("creating the bench directory")?;

        let settings = targets::LandingSettings {
            ack: cli.ack,
            compression: cli.compression,
            spool_max_bytes: cli.spool_max_bytes,
            envelope: cli.envelope,
            encode_concurrency: cli.encode_concurrency,
        };
        let (snow, bare, bare_s3) = server_rt.block_on(async {
            let snow = targets::start_snowstream(dir.path(), &settings).await?;
            let bare = targets::start_bare().await?;
            let bare_s3 = targets::start_bare_s3().await?;
            anyhow::Ok((snow, bare, bare_s3))
        })?;
        println!(
            "S3: snowstream's front door on http://{} (bucket {:?} -> stream {:?}, path-style, \
             SigV4), bare S3 handler on http://{bare_s3}",
            snow.s3_addr,
            s3load::BUCKET,
            targets::STREAM
        );
        println!(
            "snowstream on http://{}{} (spool and landing under {}), bare handler on http://{}{}",
            snow.addr,
            targets::PATH,
            dir.path().display(),
            bare,
            targets::PATH
        );
        Ok(Harness {
            server_rt,
            client_rt,
            dir,
            s3: snow.s3_addr,
            snow,
            bare,
            bare_s3,
        })
    }

    /// Stops the app as SIGTERM does: front doors, then the landing service (the runtimes
    /// keep running).
    pub fn stop_services(&mut self) -> Result<()> {
        self.server_rt.block_on(self.snow.stop())
    }

    /// Stops both runtimes and removes the bench directory (unless `--keep`).
    pub fn close(self) {
        let Harness {
            server_rt,
            client_rt,
            dir,
            ..
        } = self;
        drop(client_rt);
        server_rt.shutdown_timeout(Duration::from_secs(2));
        drop(dir);
    }
}
