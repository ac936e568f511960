//! Room for multipart parts on the spool's disk, as S3 lifecycles and quotas would keep it:
//!
//! - the stored parts of every upload in progress, the parts being received and the spool
//!   together stay within the spool limit (`--spool-max-bytes`): past it an UploadPart gets
//!   SlowDown, to retry once uploads complete and land;
//! - a part reserves its declared length *before* a byte of it is written, so parts received
//!   at once cannot all pass the check and overfill the disk together;
//! - each access key has a share of that limit (the limit divided among the configured keys),
//!   so one client's uploads, abandoned ones included, cannot starve another's: past its
//!   share a key gets SlowDown, and an upload larger than the share can never complete
//!   (EntityTooLarge, answered at the first part that shows it).
//!
//! Incomplete uploads expire (`--s3-upload-max-age`, a day by default), freeing their share.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::uploads::{UploadMeta, Uploads};

/// Parts being received, by (upload id, part number): their access key and reserved bytes.
#[derive(Default)]
pub(crate) struct PartRoom {
    receiving: Arc<Mutex<Receiving>>,
}

type Receiving = HashMap<(String, i32), (String, u64)>;

/// Why a part does not fit.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum NoRoom {
    /// The upload would pass its object limit: it can never complete.
    Never,
    /// The access key's uploads in progress would pass its share; retry later.
    Share { held: u64, share: u64 },
    /// Parts and spool together would pass the spool limit; retry later.
    Full { held: u64, limit: u64 },
}

/// The limits a part is checked against.
pub(crate) struct Limits {
    /// Most bytes of one upload's object.
    pub object: u64,
    /// Most bytes of parts one access key may hold.
    pub share: u64,
    /// Most bytes of parts of every upload plus the spool.
    pub total: u64,
    /// Bytes in the spool now.
    pub spooled: u64,
}

/// A part's reserved room; given back when dropped (by then the part is stored, and counted
/// as such, or refused).
pub(crate) struct Reserved {
    receiving: Arc<Mutex<Receiving>>,
    slot: (String, i32),
}

impl Drop for Reserved {
    fn drop(&mut self) {
        self.receiving.lock().expect("lock").remove(&self.slot);
    }
}

impl PartRoom {
    /// Reserves `size` bytes for part `number` of `meta`'s upload (replacing what that part
    /// reserved or stored before), or says why it does not fit. Checks and reservations are
    /// made one at a time.
    pub fn reserve(
        &self,
        uploads: &Uploads,
        meta: &UploadMeta,
        number: i32,
        size: u64,
        limits: &Limits,
    ) -> std::io::Result<Result<Reserved, NoRoom>> {
        let mut receiving = self.receiving.lock().expect("lock");
        let slot = (meta.upload_id.clone(), number);
        let (mut upload, mut key, mut all) = (0u64, 0u64, 0u64);
        for m in uploads.list()? {
            let parts = match uploads.parts(&m.upload_id) {
                Ok(p) => p,
                // Completed or aborted since the listing: it holds nothing any more.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            let this = m.upload_id == meta.upload_id;
            let bytes: u64 = parts
                .iter()
                .filter(|p| !(this && p.number == number))
                .map(|p| p.size)
                .sum();
            all += bytes;
            if m.access_key == meta.access_key {
                key += bytes;
            }
            if this {
                upload += bytes;
            }
        }
        for ((id, n), (k, bytes)) in receiving.iter() {
            if (id, *n) == (&slot.0, slot.1) {
                continue;
            }
            all += bytes;
            if *k == meta.access_key {
                key += bytes;
            }
            if *id == meta.upload_id {
                upload += bytes;
            }
        }
        if upload + size > limits.object.min(limits.share) {
            return Ok(Err(NoRoom::Never));
        }
        if key + size > limits.share {
            return Ok(Err(NoRoom::Share {
                held: key,
                share: limits.share,
            }));
        }
        // A lone part larger than what the spool leaves still goes through: refusing it
        // would only make the client retry it forever.
        if all > 0 && all + size + limits.spooled > limits.total {
            return Ok(Err(NoRoom::Full {
                held: all + limits.spooled,
                limit: limits.total,
            }));
        }
        receiving.insert(slot.clone(), (meta.access_key.clone(), size));
        Ok(Ok(Reserved {
            receiving: self.receiving.clone(),
            slot,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(id: &str, key: &str) -> UploadMeta {
        UploadMeta {
            upload_id: id.to_owned(),
            stream: "s".into(),
            info: Default::default(),
            access_key: key.to_owned(),
            initiated_ms: 0,
        }
    }

    fn limits() -> Limits {
        Limits {
            object: 1000,
            share: 500,
            total: 1000,
            spooled: 0,
        }
    }

    #[test]
    fn parts_received_at_once_reserve_before_they_are_written() {
        let dir = tempfile::tempdir().unwrap();
        let uploads = Uploads::open(dir.path().join("u")).unwrap();
        let room = PartRoom::default();
        let a = meta(&format!("{:032x}", 1), "A");
        let a2 = meta(&format!("{:032x}", 3), "A");
        let b = meta(&format!("{:032x}", 2), "B");
        for m in [&a, &a2, &b] {
            uploads.create(m).unwrap();
        }
        let first = room.reserve(&uploads, &a, 1, 300, &limits()).unwrap();
        let first = first.expect("room");
        // Nothing is stored yet, but A's first part holds 300 bytes of its 500.
        assert_eq!(
            room.reserve(&uploads, &a2, 1, 300, &limits())
                .unwrap()
                .err(),
            Some(NoRoom::Share {
                held: 300,
                share: 500
            })
        );
        // One upload larger than a share can never complete.
        assert_eq!(
            room.reserve(&uploads, &a, 2, 300, &limits()).unwrap().err(),
            Some(NoRoom::Never)
        );
        // B's share is untouched by A's.
        let other = room.reserve(&uploads, &b, 1, 500, &limits()).unwrap();
        assert!(other.is_ok());
        // A part that is stored or refused gives its reservation back.
        drop(first);
        assert!(
            room.reserve(&uploads, &a2, 1, 300, &limits())
                .unwrap()
                .is_ok()
        );
    }

    #[test]
    fn parts_and_spool_together_stay_within_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let uploads = Uploads::open(dir.path().join("u")).unwrap();
        let room = PartRoom::default();
        let a = meta(&format!("{:032x}", 1), "A");
        uploads.create(&a).unwrap();
        let mut part = uploads.new_part(&a.upload_id, 1).unwrap();
        part.write(&[b' '; 200]).unwrap();
        uploads.commit_part(&a.upload_id, part, "00").unwrap();
        let full = Limits {
            spooled: 850,
            ..limits()
        };
        assert_eq!(
            room.reserve(&uploads, &a, 2, 100, &full).unwrap().err(),
            Some(NoRoom::Full {
                held: 1050,
                limit: 1000
            })
        );
        // Replacing the stored part does not count it twice.
        assert!(room.reserve(&uploads, &a, 1, 100, &full).unwrap().is_ok());
    }

    /// UploadPart checks the room left while other uploads complete and are removed: an upload that goes away between the listing and the reading of its
    /// folder holds nothing, and must not fail the UploadPart (it answered 500 "No such file
    /// or directory" under 8 concurrent uploads).
    #[test]
    fn uploads_removed_while_the_room_is_counted_hold_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let uploads = std::sync::Arc::new(Uploads::open(dir.path().join("u")).unwrap());
        let room = PartRoom::default();
        let probe = meta(&format!("{:032x}", u32::MAX), "probe");
        let tight = Limits {
            object: 100,
            share: 100,
            total: 100,
            spooled: 0,
        };
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let churn = {
            let (uploads, stop) = (uploads.clone(), stop.clone());
            std::thread::spawn(move || {
                for i in 0..2_000u32 {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    let id = format!("{i:032x}");
                    uploads.create(&meta(&id, "churn")).unwrap();
                    let mut part = uploads.new_part(&id, 1).unwrap();
                    part.write(b"{\"a\":1}\n").unwrap();
                    uploads.commit_part(&id, part, "00").unwrap();
                    uploads.remove(&id).unwrap();
                }
            })
        };
        let started = std::time::Instant::now();
        let mut counted = 0;
        while !churn.is_finished() && started.elapsed() < std::time::Duration::from_secs(20) {
            if let Err(e) = room.reserve(&uploads, &probe, 1, 1, &tight) {
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
                panic!("counting the room failed after {counted} counts: {e}");
            }
            counted += 1;
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        churn.join().unwrap();
        assert!(counted > 0);
        // Every upload was removed: the whole limit is free for one part.
        let all = room.reserve(&uploads, &probe, 1, 100, &tight).unwrap();
        assert!(all.is_ok(), "{:?}", all.err());
    }
}
