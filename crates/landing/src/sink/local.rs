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

use super::{Put, Sink, SinkError, validate_key};

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
    let result = (|| {
        let mut file = step(
            "create a temp file",
            OpenOptions::new().write(true).create_new(true).open(&tmp),
        )?;
        step("write the temp file", fill(&mut file))?;
        step("flush the temp file", file.flush())?;
        step("fsync the temp file", file.sync_all())?;
        drop(file);
        match fs::hard_link(&tmp, target) {
            Ok(()) => Ok(Put::Created),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(Put::Exists),
            Err(e) => Err(("link the temp file as the key", e)),
        }
    })();
    // The temp name goes in every case: after a link the key holds the file.
    let removed = fs::remove_file(&tmp);
    let put = result?;
    step("remove the temp file", removed)?;
    if put == Put::Created {
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

    fn describe(&self) -> String {
        format!("local:{}", self.root.display())
    }
}
