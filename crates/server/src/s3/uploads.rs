//! Multipart uploads spooled on disk, so an upload survives a restart:
//! `{dir}/{upload_id}/upload.json` (what CreateMultipartUpload said) and one file per part,
//! `{part:05}-{md5 hex}.part`, each written to a temp file, fsync'd and renamed into place.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::object::ObjectInfo;

/// What CreateMultipartUpload recorded.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct UploadMeta {
    pub upload_id: String,
    pub stream: String,
    pub info: ObjectInfo,
    pub access_key: String,
    /// Milliseconds since the Unix epoch.
    pub initiated_ms: i64,
}

impl UploadMeta {
    pub fn initiated(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_millis(self.initiated_ms.max(0) as u64)
    }
}

/// What a completed upload answered.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct Completed {
    pub bucket: String,
    pub key: String,
    pub etag: String,
}

/// One stored part.
#[derive(Debug, Clone)]
pub(crate) struct StoredPart {
    pub number: i32,
    pub md5_hex: String,
    pub size: u64,
    pub modified: SystemTime,
    pub path: PathBuf,
}

pub(crate) struct Uploads {
    dir: PathBuf,
}

/// Upload ids are ours (32 hex digits); anything else cannot name a directory.
fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

impl Uploads {
    pub fn open(dir: PathBuf) -> io::Result<Uploads> {
        fs::create_dir_all(&dir)?;
        // Leftovers of a crash in the middle of create or remove.
        for e in fs::read_dir(&dir)? {
            let p = e?.path();
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.starts_with('.') {
                let _ = fs::remove_dir_all(&p);
            }
        }
        Ok(Uploads { dir })
    }

    fn upload_dir(&self, id: &str) -> Option<PathBuf> {
        valid_id(id).then(|| self.dir.join(id))
    }

    pub fn create(&self, meta: &UploadMeta) -> io::Result<()> {
        let tmp = self.dir.join(format!(".new-{}", meta.upload_id));
        fs::create_dir_all(&tmp)?;
        let mut f = fs::File::create(tmp.join("upload.json"))?;
        f.write_all(&serde_json::to_vec(meta).map_err(io::Error::other)?)?;
        f.sync_all()?;
        sync_dir(&tmp)?;
        fs::rename(&tmp, self.dir.join(&meta.upload_id))?;
        sync_dir(&self.dir)
    }

    pub fn meta(&self, id: &str) -> io::Result<Option<UploadMeta>> {
        let Some(dir) = self.upload_dir(id) else {
            return Ok(None);
        };
        match fs::read(dir.join("upload.json")) {
            Ok(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Stores a part durably, replacing an earlier part with the same number.
    pub fn put_part(&self, id: &str, number: i32, body: &[u8], md5_hex: &str) -> io::Result<()> {
        let dir = self
            .upload_dir(id)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such upload"))?;
        let tmp = dir.join(format!(".part-{number}-{}", uuid::Uuid::new_v4().simple()));
        let mut f = fs::File::create(&tmp)?;
        f.write_all(body)?;
        f.sync_all()?;
        for old in self.parts(id)?.into_iter().filter(|p| p.number == number) {
            fs::remove_file(old.path)?;
        }
        fs::rename(&tmp, dir.join(format!("{number:05}-{md5_hex}.part")))?;
        sync_dir(&dir)
    }

    /// Stored parts in part-number order.
    pub fn parts(&self, id: &str) -> io::Result<Vec<StoredPart>> {
        let Some(dir) = self.upload_dir(id) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for e in fs::read_dir(&dir)? {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            let Some((num, md5)) = name.strip_suffix(".part").and_then(|s| s.split_once('-'))
            else {
                continue;
            };
            let Ok(number) = num.parse() else { continue };
            let md = e.metadata()?;
            out.push(StoredPart {
                number,
                md5_hex: md5.to_owned(),
                size: md.len(),
                modified: md.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                path: e.path(),
            });
        }
        out.sort_by_key(|p| p.number);
        Ok(out)
    }

    /// Records that upload `id` completed with `etag` (so a retried Complete gets the same
    /// answer instead of NoSuchUpload), then removes its parts.
    pub fn finish(&self, meta: &UploadMeta, etag: &str) -> io::Result<()> {
        // A crash here (after the records were appended, before the marker) is what the
        // idempotency key of the append makes harmless.
        fail::fail_point!("s3-complete-marker");
        let done = self.dir.join("done");
        fs::create_dir_all(&done)?;
        let marker = Completed {
            bucket: meta.info.bucket.clone(),
            key: meta.info.key.clone(),
            etag: etag.to_owned(),
        };
        let tmp = done.join(format!(".{}", meta.upload_id));
        let mut f = fs::File::create(&tmp)?;
        f.write_all(&serde_json::to_vec(&marker).map_err(io::Error::other)?)?;
        f.sync_all()?;
        fs::rename(&tmp, done.join(&meta.upload_id))?;
        sync_dir(&done)?;
        self.remove(&meta.upload_id)
    }

    /// How upload `id` was completed, if it was (and the marker has not expired).
    pub fn completed(&self, id: &str) -> Option<Completed> {
        if !valid_id(id) {
            return None;
        }
        let b = fs::read(self.dir.join("done").join(id)).ok()?;
        serde_json::from_slice(&b).ok()
    }

    /// Bytes of every stored part of every upload in progress.
    pub fn parts_bytes(&self) -> io::Result<u64> {
        let mut total = 0;
        for m in self.list()? {
            total += self
                .parts(&m.upload_id)?
                .iter()
                .map(|p| p.size)
                .sum::<u64>();
        }
        Ok(total)
    }

    /// Every upload in progress.
    pub fn list(&self) -> io::Result<Vec<UploadMeta>> {
        let mut out = Vec::new();
        for e in fs::read_dir(&self.dir)? {
            let name = e?.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            if let Ok(Some(m)) = self.meta(&name) {
                out.push(m);
            }
        }
        Ok(out)
    }

    pub fn remove(&self, id: &str) -> io::Result<()> {
        let Some(dir) = self.upload_dir(id) else {
            return Ok(());
        };
        let trash = self.dir.join(format!(".gone-{id}"));
        match fs::rename(&dir, &trash) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        }
        sync_dir(&self.dir)?;
        fs::remove_dir_all(trash)
    }

    /// Removes uploads initiated more than `max_age` ago; returns how many.
    pub fn expire(&self, max_age: Duration) -> io::Result<usize> {
        let now = SystemTime::now();
        let mut n = 0;
        for m in self.list()? {
            if now
                .duration_since(m.initiated())
                .is_ok_and(|age| age > max_age)
            {
                self.remove(&m.upload_id)?;
                tracing::info!(upload_id = %m.upload_id, bucket = %m.info.bucket, key = %m.info.key,
                    "removed an expired incomplete multipart upload");
                n += 1;
            }
        }
        // Completion markers only answer retried Completes; drop them after the same age.
        if let Ok(entries) = fs::read_dir(self.dir.join("done")) {
            for e in entries.flatten() {
                let old = e
                    .metadata()
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| now.duration_since(t).is_ok_and(|age| age > max_age));
                if old {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
        Ok(n)
    }
}
