//! Starting the landing service: check the configuration, lock the spool, find what an
//! earlier run left in each stream's folder, and start the stream's spool writer thread,
//! lander task and Snowpipe notifier.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::mpsc;

use crate::config::{self, LandingConfig, StreamConfig};
use crate::error::LandingError;
use crate::gauge::SpoolGauge;
use crate::lander::{self, Lander};
use crate::notify;
use crate::service::{Landing, StreamHandle, StreamInput};
use crate::sink::Sink;
use crate::spool::{self, segment};

impl Landing {
    /// Opens the spool, lands whatever an earlier run left in it, and starts accepting.
    /// Must be called inside a tokio runtime.
    pub fn start(config: LandingConfig, sink: Arc<dyn Sink>) -> Result<Landing, LandingError> {
        if !config::valid_name(&config.instance) {
            return Err(LandingError::Config(format!(
                "instance id {:?} must be 1-128 of [A-Za-z0-9._-], not starting with '.'",
                config.instance
            )));
        }
        if config.streams.is_empty() {
            return Err(LandingError::Config("no streams configured".into()));
        }
        let lock = lock_spool(&config.spool_dir)?;
        refuse_stranded_streams(&config)?;
        let gauge = Arc::new(SpoolGauge::new(config.spool_max_bytes));
        metrics::gauge!(crate::metric_names::SPOOL_MAX_BYTES).set(config.spool_max_bytes as f64);
        let mut streams = HashMap::new();
        for sc in &config.streams {
            if !config::valid_name(&sc.name) {
                return Err(LandingError::Config(format!(
                    "stream name {:?} must be 1-128 of [A-Za-z0-9._-], not starting with '.'",
                    sc.name
                )));
            }
            if streams.contains_key(&sc.name) {
                return Err(LandingError::Config(format!(
                    "stream {:?} configured twice",
                    sc.name
                )));
            }
            let sc = cap_batch_size(sc, config.spool_max_bytes);
            let started = Shared {
                config: &config,
                sink: &sink,
                gauge: &gauge,
                lock: &lock,
            };
            streams.insert(sc.name.clone(), started.stream(sc)?);
        }
        Ok(Landing {
            streams,
            gauge,
            sink,
            _lock: lock,
        })
    }
}

fn spool_err(path: &Path) -> impl FnOnce(io::Error) -> LandingError {
    move |source| LandingError::Spool {
        path: path.display().to_string(),
        source,
    }
}

/// Creates the spool directory and takes its lock, so no second process shares it.
fn lock_spool(dir: &Path) -> Result<Arc<File>, LandingError> {
    fs::create_dir_all(dir).map_err(spool_err(dir))?;
    let lock_path = dir.join(".lock");
    let lock = Arc::new(File::create(&lock_path).map_err(spool_err(&lock_path))?);
    lock.try_lock().map_err(|_| {
        LandingError::Config(format!(
            "spool directory {} is in use by another snowstream process (each instance needs its own spool)",
            dir.display()
        ))
    })?;
    Ok(lock)
}

/// Refuses to start when the spool holds segments of a stream that is not configured: they
/// hold acknowledged records that nothing would land (and a stream's options, such as its
/// prefix and compression, are not in the spool to land them with). The error names the
/// stream and the fix.
fn refuse_stranded_streams(config: &LandingConfig) -> Result<(), LandingError> {
    let dir = &config.spool_dir;
    let mut stranded = Vec::new();
    for entry in fs::read_dir(dir).map_err(spool_err(dir))? {
        let path = entry.map_err(spool_err(dir))?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !path.is_dir() || config.streams.iter().any(|s| s.name == name) {
            continue;
        }
        let segments = fs::read_dir(&path)
            .map_err(spool_err(&path))?
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(segment::SUFFIX))
            .count();
        if segments > 0 {
            stranded.push(format!(
                "{name:?} ({segments} batch(es) in {})",
                path.display()
            ));
        }
    }
    if stranded.is_empty() {
        return Ok(());
    }
    let why = format!(
        "the spool holds acknowledged records of streams that are not configured: {}; \
         configure each again (same name, prefix and options) so they land, then remove it \
         once its spool folder holds no .seg file; or move the folder out of the spool to \
         give those records up",
        stranded.join(", ")
    );
    tracing::error!("{why}");
    Err(LandingError::Config(why))
}

/// A batch must fit in the spool with room to spare, or a full spool could only drain when
/// the batch ages out: caps the batch size at half the spool limit.
fn cap_batch_size(sc: &StreamConfig, spool_max_bytes: u64) -> StreamConfig {
    let mut sc = sc.clone();
    let cap = (spool_max_bytes / 2).max(1);
    if sc.max_bytes > cap {
        tracing::info!(stream = %sc.name, batch_max_bytes = sc.max_bytes, cap,
            "batch size capped at half the spool limit");
        sc.max_bytes = cap;
    }
    sc
}

/// What every stream of one start shares.
struct Shared<'a> {
    config: &'a LandingConfig,
    sink: &'a Arc<dyn Sink>,
    gauge: &'a Arc<SpoolGauge>,
    lock: &'a Arc<File>,
}

impl Shared<'_> {
    /// Recovers the stream's folder and starts its notifier, lander and writer.
    fn stream(&self, sc: StreamConfig) -> Result<StreamHandle, LandingError> {
        let dir = self.config.spool_dir.join(&sc.name);
        fs::create_dir_all(&dir).map_err(spool_err(&dir))?;
        let opened = spool::open(&dir, &sc.name, lander::is_leftover).map_err(spool_err(&dir))?;
        let (handoff, handed) = mpsc::unbounded_channel();
        for info in &opened.segments {
            tracing::info!(stream = %sc.name, segment = %info.path.display(), records = info.records,
                "landing a batch left in the spool by an earlier run");
            self.gauge.add(info.bytes);
        }
        let snowpipe = sc
            .snowpipe
            .as_ref()
            .map(|c| notify::start(&sc.name, &dir, c))
            .transpose()
            .map_err(|e| LandingError::Config(e.to_string()))?;
        let stats = crate::status::stats::StreamStats::start(&sc.name, sc.snowpipe.is_some());
        let lander = Lander {
            stats: stats.clone(),
            notify: snowpipe.as_ref().map(|s| s.hook.clone()),
            dir: dir.clone(),
            config: sc.clone(),
            instance: self.config.instance.clone(),
            sink: self.sink.clone(),
            gauge: self.gauge.clone(),
        };
        let lander = tokio::spawn(lander.run(handed));
        let (tx, writer) = spool::Spawn {
            dir: dir.clone(),
            config: sc.clone(),
            opened,
            handoff,
            gauge: self.gauge.clone(),
            instance: self.config.instance.clone(),
            watch: Some(stats.clone()),
            lock: self.lock.clone(),
        }
        .start()
        .map_err(spool_err(&self.config.spool_dir))?;
        let input = StreamInput {
            tx: Arc::new(RwLock::new(Some(tx))),
            gauge: self.gauge.clone(),
            dir,
            stats,
            ack_latency: StreamHandle::ack_latency_histogram(&sc.name),
        };
        Ok(StreamHandle {
            config: sc,
            input,
            writer: Mutex::new(Some(writer)),
            lander: Mutex::new(Some(lander)),
            snowpipe,
        })
    }
}
