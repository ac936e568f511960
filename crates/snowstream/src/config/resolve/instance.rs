//! The default instance id: the host name plus a random tag made once per data directory and
//! kept in it (`{data dir}/instance-id`), so that two processes on one host, or two replicas
//! with one host name, never share a key space, and a restart keeps its id. An id given with
//! `--instance-id` is used as it is.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};

/// Name of the file in the data directory that keeps the generated id.
const FILE_NAME: &str = "instance-id";
/// Most characters of the host name kept in the id (instance ids are at most 128).
const MAX_HOST_CHARS: usize = 100;

/// The id kept in `data_dir`, made from `host` and a random tag the first time.
pub(super) fn default_instance_id(data_dir: &Path, host: &str) -> Result<String> {
    let path = data_dir.join(FILE_NAME);
    let read = |path: &Path| -> Result<String> {
        let id = fs::read_to_string(path)
            .with_context(|| format!("cannot read the instance id in {}", path.display()))?;
        let id = id.trim().to_owned();
        if !landing::valid_instance_id(&id) {
            bail!(
                "{} holds {id:?}, which is not an instance id (1-128 of [A-Za-z0-9._-]); \
                 remove the file to make a new one, or set --instance-id",
                path.display()
            );
        }
        Ok(id)
    };
    if path.exists() {
        return read(&path);
    }
    fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let id = format!("{}-{}", clean_host(host), &tag[..8]);
    match write_new(&path, &id) {
        Ok(()) => Ok(id),
        // Another process of this data directory made it first (it will not get the spool
        // lock, but both agree on the id).
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => read(&path),
        Err(e) => {
            Err(e).with_context(|| format!("cannot keep the instance id in {}", path.display()))
        }
    }
}

/// Writes `id` to a new file at `path`, durably.
fn write_new(path: &Path, id: &str) -> io::Result<()> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    f.write_all(format!("{id}\n").as_bytes())?;
    f.sync_all()?;
    fs::File::open(path.parent().unwrap_or(Path::new(".")))?.sync_all()
}

/// The host name, cleaned to the characters allowed in file names.
pub(super) fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .or_else(|| fs::read_to_string("/etc/hostname").ok())
        .unwrap_or_default()
}

fn clean_host(raw: &str) -> String {
    let clean: String = raw
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(MAX_HOST_CHARS)
        .collect();
    if clean.is_empty() {
        "snowstream".into()
    } else {
        clean
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_host_two_data_dirs_two_ids_each_kept_across_restarts() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let id_a = default_instance_id(a.path(), "ip-10-0-0-7.ec2.internal").unwrap();
        let id_b = default_instance_id(b.path(), "ip-10-0-0-7.ec2.internal").unwrap();
        assert_ne!(id_a, id_b);
        for id in [&id_a, &id_b] {
            assert!(id.starts_with("ip-10-0-0-7-ec2-internal-"), "{id}");
            assert!(landing::valid_instance_id(id), "{id}");
        }
        // A restart (or a new host name) keeps the id of the data directory.
        assert_eq!(default_instance_id(a.path(), "other").unwrap(), id_a);
        // Under a data directory that does not exist yet.
        let nested = a.path().join("new/data");
        let id = default_instance_id(&nested, "").unwrap();
        assert!(id.starts_with("snowstream-"), "{id}");
        assert_eq!(
            fs::read_to_string(nested.join(FILE_NAME)).unwrap(),
            format!("{id}\n")
        );
    }

    #[test]
    fn a_damaged_id_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(FILE_NAME), "no spaces allowed\n").unwrap();
        let err = default_instance_id(dir.path(), "h")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("not an instance id") && err.contains("--instance-id"),
            "{err}"
        );
        let long = "h".repeat(300);
        let id = default_instance_id(&dir.path().join("x"), &long).unwrap();
        assert!(id.len() <= 128 && landing::valid_instance_id(&id), "{id}");
    }
}
