//! Multipart uploads spooled on disk, so an upload survives a restart:
//! `{dir}/{upload_id}/upload.json` (what CreateMultipartUpload said) and one file per part,
//! `{part:05}-{md5 hex}.part`, each written to a temp file, fsync'd and renamed into place,
//! and once a Complete starts appending, `complete.json`: the parts it chose.

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
    /// Held while a part replaces the one with its number (list, remove, rename), so two
    /// UploadParts of one number leave one part: the later, as S3 keeps.
    replacing: std::sync::Mutex<()>,
}

/// The part list a Complete chose, in the upload's folder.
const CHOSEN: &str = "complete.json";

/// What a Complete records before its first append: the parts it ingests (number, MD5) and
/// how it cuts the object into chunks, each appended under `{upload_id}/{n}`. A retry cuts
/// the object the same way, whatever version or settings it runs with, so a chunk taken
/// before is the same records.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Plan {
    pub parts: Vec<(i32, String)>,
    /// `None` when an older version recorded only the parts (it cut as this one does by default).
    #[serde(default)]
    pub cut: Option<Cut>,
}

/// How an object is cut into chunks.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Cut {
    /// Bytes of records per chunk; 0: the object whole, as chunk 0.
    pub chunk_bytes: usize,
    /// The record format it is parsed as (`Format::name`).
    pub format: String,
}

/// `complete.json` as this version writes it, or as older ones did (the part list alone).
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum OnDisk {
    Plan(Plan),
    Parts(Vec<(i32, String)>),
}

/// What [`Uploads::choose`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Choice {
    /// The list is recorded now.
    New,
    /// An earlier Complete recorded the same list.
    Same,
    /// An earlier Complete recorded this other list.
    Other(Vec<(i32, String)>),
}

/// Bytes of a part buffered before they are written to its file.
const PART_WRITE_BUFFER: usize = 256 << 10;

/// A part being received: its temp file, removed on drop unless committed.
pub(crate) struct NewPart {
    dir: PathBuf,
    tmp: PathBuf,
    number: i32,
    file: Option<io::BufWriter<fs::File>>,
}

impl NewPart {
    /// Appends `data` to the part.
    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.file.as_mut().expect("not committed").write_all(data)
    }

    /// The part's bytes so far, read from the start (after flushing what is buffered).
    pub fn read_back(&mut self) -> io::Result<fs::File> {
        self.file.as_mut().expect("not committed").flush()?;
        fs::File::open(&self.tmp)
    }
}

impl Drop for NewPart {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
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
        Ok(Uploads {
            dir,
            replacing: std::sync::Mutex::new(()),
        })
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

    /// Starts part `number` of upload `id`: a temp file in the upload's folder that
    /// [`Uploads::commit_part`] makes the part, or that is removed when dropped.
    pub fn new_part(&self, id: &str, number: i32) -> io::Result<NewPart> {
        let dir = self
            .upload_dir(id)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such upload"))?;
        let tmp = dir.join(format!(".part-{number}-{}", uuid::Uuid::new_v4().simple()));
        let file = io::BufWriter::with_capacity(PART_WRITE_BUFFER, fs::File::create(&tmp)?);
        Ok(NewPart {
            dir,
            tmp,
            number,
            file: Some(file),
        })
    }

    /// Makes `part` durable under its MD5, replacing an earlier part with the same number.
    pub fn commit_part(&self, id: &str, mut part: NewPart, md5_hex: &str) -> io::Result<()> {
        let file = part.file.take().expect("a part is committed once");
        file.into_inner()
            .map_err(io::IntoInnerError::into_error)?
            .sync_all()?;
        let _replacing = self.replacing.lock().unwrap_or_else(|e| e.into_inner());
        for old in self
            .parts(id)?
            .into_iter()
            .filter(|p| p.number == part.number)
        {
            fs::remove_file(old.path)?;
        }
        fs::rename(
            &part.tmp,
            part.dir.join(format!("{:05}-{md5_hex}.part", part.number)),
        )?;
        part.tmp = PathBuf::new();
        sync_dir(&part.dir)
    }

    /// Records durably which parts (number, MD5) a Complete of upload `id` ingests and how it
    /// cuts them, before its first record is appended. When a Complete already recorded a
    /// plan, nothing is written and its part list is returned as [`Choice::Other`] unless it
    /// is the same.
    pub fn choose(&self, id: &str, plan: &Plan) -> io::Result<Choice> {
        let dir = self
            .upload_dir(id)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such upload"))?;
        if let Some(before) = self.chosen(id)? {
            return Ok(if before.parts == plan.parts {
                Choice::Same
            } else {
                Choice::Other(before.parts)
            });
        }
        let tmp = dir.join(format!(".{CHOSEN}"));
        let mut f = fs::File::create(&tmp)?;
        f.write_all(&serde_json::to_vec(plan).map_err(io::Error::other)?)?;
        f.sync_all()?;
        fs::rename(&tmp, dir.join(CHOSEN))?;
        sync_dir(&dir)?;
        Ok(Choice::New)
    }

    /// The plan a Complete of upload `id` recorded, if one did.
    pub fn chosen(&self, id: &str) -> io::Result<Option<Plan>> {
        let Some(dir) = self.upload_dir(id) else {
            return Ok(None);
        };
        match fs::read(dir.join(CHOSEN)) {
            Ok(b) => match serde_json::from_slice(&b) {
                Ok(OnDisk::Plan(p)) => Ok(Some(p)),
                Ok(OnDisk::Parts(parts)) => Ok(Some(Plan { parts, cut: None })),
                Err(e) => Err(io::Error::new(io::ErrorKind::InvalidData, e)),
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Forgets the part list [`Uploads::choose`] recorded (no record of it was kept).
    pub fn unchoose(&self, id: &str) -> io::Result<()> {
        let Some(dir) = self.upload_dir(id) else {
            return Ok(());
        };
        match fs::remove_file(dir.join(CHOSEN)) {
            Ok(()) => sync_dir(&dir),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
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
            let md = match e.metadata() {
                Ok(md) => md,
                // Replaced by a newer part with the same number, or the upload was removed,
                // since the folder was read.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
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

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(id: &str) -> UploadMeta {
        UploadMeta {
            upload_id: id.to_owned(),
            stream: "s".to_owned(),
            info: ObjectInfo::default(),
            access_key: String::new(),
            initiated_ms: 0,
        }
    }

    /// A part list recorded by an older version (the list alone) is still read, with no cut.
    #[test]
    fn a_plan_recorded_by_an_older_version_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let uploads = Uploads::open(dir.path().join("u")).unwrap();
        let id = format!("{:032x}", 7);
        uploads.create(&meta(&id)).unwrap();
        let folder = uploads.upload_dir(&id).unwrap();
        fs::write(folder.join(CHOSEN), br#"[[1,"aa"],[2,"bb"]]"#).unwrap();
        let plan = uploads.chosen(&id).unwrap().expect("recorded");
        assert_eq!(plan.parts, [(1, "aa".to_owned()), (2, "bb".to_owned())]);
        assert_eq!(plan.cut, None);
        let same = Plan {
            parts: plan.parts.clone(),
            cut: Some(Cut {
                chunk_bytes: 4,
                format: "ndjson".into(),
            }),
        };
        assert_eq!(uploads.choose(&id, &same).unwrap(), Choice::Same);
    }

    /// S3 keeps the last of two UploadParts with the same number. Two racing commits of one
    /// number must leave exactly one part under it and neither may fail: both listed the
    /// same earlier part and the second removal failed with "No such file or directory", or
    /// both renamed after listing and the upload kept two files for one number.
    #[test]
    fn racing_commits_of_one_part_number_keep_one_part() {
        let dir = tempfile::tempdir().unwrap();
        let uploads = std::sync::Arc::new(Uploads::open(dir.path().join("u")).unwrap());
        let id = format!("{:032x}", 7);
        uploads.create(&meta(&id)).unwrap();
        for round in 0..200 {
            let racers: Vec<_> = (0..2)
                .map(|t| {
                    let (uploads, id) = (uploads.clone(), id.clone());
                    std::thread::spawn(move || {
                        let mut part = uploads.new_part(&id, 1).unwrap();
                        part.write(format!("{{\"t\":{t}}}\n").as_bytes()).unwrap();
                        uploads.commit_part(&id, part, &format!("{t:02}"))
                    })
                })
                .collect();
            for r in racers {
                r.join()
                    .unwrap()
                    .unwrap_or_else(|e| panic!("round {round}: {e}"));
            }
            let parts = uploads.parts(&id).unwrap();
            assert_eq!(parts.len(), 1, "round {round}: {parts:?}");
        }
    }
}
