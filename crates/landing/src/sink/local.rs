//! Local-folder sink: `root/key`, written through a hidden temp file and a hard link.
//!
//! Each put writes `.<name>.tmp-<random>` in the key's directory, fsyncs it, links it as
//! `<name>` (`link(2)` fails with `EEXIST` when the name is taken, so an existing object is
//! never replaced: [`Put::Exists`]), removes the temp name and fsyncs the directory. A
//! reader sees no file or the whole one. A crash can leave a temp file behind; its name
//! starts with '.' and contains `.tmp-` (see [`is_temp_file_name`]), so it never looks like
//! a data file, and [`LocalSink::clean_temp_files`] removes such leftovers.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::{Put, Sink, SinkError, Staging, injected_stage_fault, validate_key};

/// Stores objects as files under a root folder.
#[derive(Debug, Clone)]
pub struct LocalSink {
    root: PathBuf,
}

/// True for names of temp files this sink writes (and may leave behind after a crash).
pub fn is_temp_file_name(name: &str) -> bool {
    name.starts_with('.') && name.contains(".tmp-")
}

impl LocalSink {
    /// Uses (and creates if missing) the folder `root`.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self, SinkError> {
        let root = root.into();
        let config_err = |message: String| SinkError::Config {
            backend: format!("local:{}", root.display()),
            message,
        };
        fs::create_dir_all(&root)
            .map_err(|e| config_err(format!("cannot create the landing folder: {e}")))?;
        let root = fs::canonicalize(&root)
            .map_err(|e| config_err(format!("cannot resolve the landing folder: {e}")))?;
        Ok(Self { root })
    }

    /// The absolute root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file that holds `key` (after validating the key).
    pub fn path_for(&self, key: &str) -> Result<PathBuf, SinkError> {
        validate_key(key)?;
        if key.rsplit('/').next().is_some_and(is_temp_file_name) {
            return Err(SinkError::InvalidKey {
                key: key.to_owned(),
                reason: "the file name looks like a temp file of the local sink ('.<name>.tmp-…')",
            });
        }
        Ok(self.root.join(key))
    }

    /// Removes temp files left by interrupted puts anywhere under the root. Returns how many
    /// were removed. Call it at startup, before any put is under way.
    pub fn clean_temp_files(&self) -> Result<usize, SinkError> {
        let io_err = |action, source| SinkError::Io {
            backend: self.describe(),
            key: String::new(),
            action,
            source,
        };
        let mut removed = 0;
        let mut dirs = vec![self.root.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in fs::read_dir(&dir).map_err(|e| io_err("list a folder", e))? {
                let entry = entry.map_err(|e| io_err("list a folder", e))?;
                let kind = entry.file_type().map_err(|e| io_err("stat a file", e))?;
                if kind.is_dir() {
                    dirs.push(entry.path());
                } else if kind.is_file() && is_temp_file_name(&entry.file_name().to_string_lossy())
                {
                    fs::remove_file(entry.path()).map_err(|e| io_err("remove a temp file", e))?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }

    fn io_error(&self, key: &str, action: &'static str) -> impl FnOnce(io::Error) -> SinkError {
        let backend = self.describe();
        let key = key.to_owned();
        move |source| SinkError::Io {
            backend,
            key,
            action,
            source,
        }
    }

    /// Creates `key` atomically unless it exists; `fill` writes the content into the (empty)
    /// temp file.
    async fn put_with(
        &self,
        key: &str,
        fill: impl FnOnce(&mut File) -> io::Result<()> + Send + 'static,
    ) -> Result<Put, SinkError> {
        let target = self.path_for(key)?;
        let root = self.root.clone();
        let joined =
            tokio::task::spawn_blocking(move || create_atomically(&root, &target, fill)).await;
        let (action, source) = match joined {
            Ok(Ok(put)) => return Ok(put),
            Ok(Err(failed)) => failed,
            Err(e) => ("run the writer task", io::Error::other(e)),
        };
        Err(self.io_error(key, action)(source))
    }
}

type StepResult<T> = Result<T, (&'static str, io::Error)>;

fn step<T>(action: &'static str, r: io::Result<T>) -> StepResult<T> {
    r.map_err(|e| (action, e))
}

fn create_atomically(
    root: &Path,
    target: &Path,
    fill: impl FnOnce(&mut File) -> io::Result<()>,
) -> StepResult<Put> {
    let (mut file, tmp) = create_temp(root, target)?;
    let filled = step("write the temp file", fill(&mut file))
        .and_then(|()| step("flush the temp file", file.flush()));
    if let Err(failed) = filled {
        let _ = fs::remove_file(&tmp);
        return Err(failed);
    }
    link_into_place(file, &tmp, target)
}

/// Creates the key's folders and an empty temp file beside `target`.
fn create_temp(root: &Path, target: &Path) -> StepResult<(File, PathBuf)> {
    let dir = target
        .parent()
        .expect("a validated key has a parent under the root");
    let name = target
        .file_name()
        .expect("a validated key has a file name")
        .to_string_lossy()
        .into_owned();
    step("create the key's folder", create_dirs_durably(root, dir))?;
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let tmp = dir.join(format!(".{name}.tmp-{}", &suffix[..16]));
    let file = step(
        "create a temp file",
        OpenOptions::new().write(true).create_new(true).open(&tmp),
    )?;
    Ok((file, tmp))
}

/// Fsyncs the written temp file `tmp`, links it as `target` unless that name is taken, removes
/// the temp name (in every case: after a link the key holds the file) and fsyncs the folder.
fn link_into_place(file: File, tmp: &Path, target: &Path) -> StepResult<Put> {
    let result = step("fsync the temp file", file.sync_all()).and_then(|()| {
        drop(file);
        match fs::hard_link(tmp, target) {
            Ok(()) => Ok(Put::Created),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(Put::Exists),
            Err(e) => Err(("link the temp file as the key", e)),
        }
    });
    let removed = fs::remove_file(tmp);
    let put = result?;
    step("remove the temp file", removed)?;
    if put == Put::Created {
        let dir = target.parent().expect("a key has a parent folder");
        step("fsync the key's folder", sync_dir(dir))?;
    }
    Ok(put)
}

/// Creates the missing folders from `root` down to `dir`, fsyncing each parent that gained an
/// entry, so a new partition folder survives a crash together with its first file.
fn create_dirs_durably(root: &Path, dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let rel = dir.strip_prefix(root).map_err(io::Error::other)?;
    let mut current = root.to_path_buf();
    for part in rel.components() {
        let parent = current.clone();
        current.push(part);
        match fs::create_dir(&current) {
            Ok(()) => sync_dir(&parent)?,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && current.is_dir() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[async_trait::async_trait]
impl Sink for LocalSink {
    async fn put_file(&self, key: &str, path: &Path) -> Result<Put, SinkError> {
        // Open the source here so a missing source file is reported as such, not as a write error.
        let mut source = File::open(path).map_err(self.io_error(key, "open the source file"))?;
        self.put_with(key, move |dest| io::copy(&mut source, dest).map(|_| ()))
            .await
    }

    async fn put_bytes(&self, key: &str, body: bytes::Bytes) -> Result<Put, SinkError> {
        self.put_with(key, move |dest| dest.write_all(&body)).await
    }

    async fn get(&self, key: &str) -> Result<Option<bytes::Bytes>, SinkError> {
        let path = self.path_for(key)?;
        match tokio::fs::read(&path).await {
            Ok(b) => Ok(Some(b.into())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.io_error(key, "read the object")(e)),
        }
    }

    async fn stage(&self, key: &str) -> Result<Box<dyn Staging>, SinkError> {
        let target = self.path_for(key)?;
        let root = self.root.clone();
        let made = {
            let target = target.clone();
            tokio::task::spawn_blocking(move || create_temp(&root, &target)).await
        };
        let (file, tmp) = match made {
            Ok(Ok(made)) => made,
            Ok(Err((action, e))) => return Err(self.io_error(key, action)(e)),
            Err(e) => {
                return Err(self.io_error(key, "run the writer task")(io::Error::other(
                    e,
                )));
            }
        };
        Ok(Box::new(LocalStaging {
            backend: self.describe(),
            key: key.to_owned(),
            target,
            tmp,
            file: Some(file),
        }))
    }

    async fn read_each(
        &self,
        key: &str,
        each: &mut (dyn for<'c> FnMut(&'c [u8]) + Send),
    ) -> Result<bool, SinkError> {
        use tokio::io::AsyncReadExt;
        let path = self.path_for(key)?;
        let mut file = match tokio::fs::File::open(&path).await {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(self.io_error(key, "open the object")(e)),
        };
        let mut buf = vec![0u8; 1 << 20];
        loop {
            match file.read(&mut buf).await {
                Ok(0) => return Ok(true),
                Ok(n) => each(&buf[..n]),
                Err(e) => return Err(self.io_error(key, "read the object")(e)),
            }
        }
    }

    fn describe(&self) -> String {
        format!("local:{}", self.root.display())
    }
}

/// A staged put of the local sink: the temp file beside the key (in the sink's folder, not
/// wherever the body comes from), written chunk by chunk and linked at commit as a whole put
/// is. Aborted or dropped uncommitted, the temp file is removed.
struct LocalStaging {
    backend: String,
    key: String,
    target: PathBuf,
    tmp: PathBuf,
    /// `None` once committed or aborted.
    file: Option<File>,
}

impl LocalStaging {
    fn error(&self, action: &'static str, source: io::Error) -> SinkError {
        SinkError::Io {
            backend: self.backend.clone(),
            key: self.key.clone(),
            action,
            source,
        }
    }
}

#[async_trait::async_trait]
impl Staging for LocalStaging {
    fn key(&self) -> &str {
        &self.key
    }

    async fn write(&mut self, chunk: Bytes) -> Result<(), SinkError> {
        injected_stage_fault(&self.backend, &self.key)?;
        let Some(mut file) = self.file.take() else {
            return Err(self.error("write the temp file", io::Error::other("already finished")));
        };
        let joined = tokio::task::spawn_blocking(move || {
            let written = file.write_all(&chunk);
            (file, written)
        })
        .await;
        match joined {
            Ok((file, written)) => {
                self.file = Some(file);
                written.map_err(|e| self.error("write the temp file", e))
            }
            Err(e) => Err(self.error("run the writer task", io::Error::other(e))),
        }
    }

    async fn commit(mut self: Box<Self>, _sink: &dyn Sink) -> Result<Put, SinkError> {
        let Some(file) = self.file.take() else {
            return Err(self.error("commit", io::Error::other("already finished")));
        };
        let (tmp, target) = (self.tmp.clone(), self.target.clone());
        let joined =
            tokio::task::spawn_blocking(move || link_into_place(file, &tmp, &target)).await;
        match joined {
            Ok(Ok(put)) => Ok(put),
            Ok(Err((action, e))) => Err(self.error(action, e)),
            Err(e) => Err(self.error("run the writer task", io::Error::other(e))),
        }
    }

    async fn abort(mut self: Box<Self>) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

impl Drop for LocalStaging {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}
