//! The `shared` phase of `snowstream-bench chaos`: two `snowstream serve` children, each on
//! its own data directory and port, land in one target while clients post to both, and both
//! go through the kill phase's kill -9 cycles (each restarted on its own data directory), then
//! stop with SIGTERM. Two variants, each counted alone (a row each, half the phase's ids):
//! - `Shared`: one S3 bucket, the default instance ids (the host name plus a tag made once
//!   and kept in the data directory): the children land under two ids, no key of one meets
//!   the other's;
//! - `SharedFixed`: one local landing folder, one `--instance-id` for both: their keys collide
//!   (both number their records from 1), and the sink is create-only, so a batch that finds
//!   its key taken lands under `{instance}.x{sha256 digits}` (and
//!   `snowstream_sink_collisions_total` counts it).
//!
//! Either way nothing acknowledged may be lost and nothing landed twice. The fixed-id variant
//! lands in a folder, not in the test S3: s3s-fs checks `If-None-Match: *` before it writes
//! (not atomically), so two puts of one key at once both succeed there and the later replaces
//! the earlier, which S3 itself never does (one gets 412 or 409). The local sink's `link(2)`
//! is atomic.

use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::Result;
use testkit::s3_child::OutageS3;

use super::{CHILD_FLAGS, ChaosArgs, Child, Row, count_landed, kill_cycles, phase_load};

/// Children landing in the one target at once.
const CHILDREN: u64 = 2;
/// The `--instance-id` both children of the `SharedFixed` variant are given.
const FIXED_ID: &str = "chaos-shared";

/// The two variants, ids `ids` split between them: the table's rows.
pub(super) async fn run(
    args: &ChaosArgs,
    bin: &Path,
    s3: &OutageS3,
    dir: &Path,
    ids: Range<u64>,
) -> Result<Vec<Row>> {
    let half = (ids.end - ids.start) / 2;
    let mut rows = Vec::new();
    for (v, fixed) in (0..).zip([false, true]) {
        let ids = ids.start + v * half..ids.start + (v + 1) * half;
        let label = if fixed { "SharedFixed" } else { "Shared" };
        let folder = dir.join(format!("{label}-landing"));
        let children: Vec<Child> = (0..CHILDREN)
            .map(|i| {
                let data = dir.join(format!("{label}-{i}"));
                Child {
                    bin: bin.to_owned(),
                    port: testkit::free_port(),
                    // An empty --instance-id means the default (as `SNOWSTREAM_INSTANCE_ID=`).
                    args: match fixed {
                        true => local_args(&data, &folder),
                        false => s3.child_args(&data, "", &CHILD_FLAGS),
                    },
                }
            })
            .collect();
        // Each child's clients have their own ids: client c of child i is c + i * clients.
        let loads: Vec<_> = (0..)
            .zip(&children)
            .map(|(i, child)| {
                let clients = i * args.clients..(i + 1) * args.clients;
                phase_load(args, ids.start, clients, child.url())
            })
            .collect();
        kill_cycles(args, &children, &loads).await?;
        let root: PathBuf = if fixed { folder } else { s3.bucket_dir() };
        let counts = count_landed(&root, ids, &loads);
        let problem = if fixed {
            (counts.collisions == 0).then(|| {
                "no collision key: two children with one instance id did not meet".to_owned()
            })
        } else {
            (counts.instances != CHILDREN || counts.collisions > 0).then(|| {
                format!(
                    "{} instance ids and {} collision keys: the default ids of two data \
                     directories must differ",
                    counts.instances, counts.collisions
                )
            })
        };
        rows.push(Row {
            label: label.to_owned(),
            counts,
            problem,
        });
    }
    Ok(rows)
}

/// Arguments of a fixed-id child landing in the local folder `folder`.
fn local_args(data: &Path, folder: &Path) -> Vec<String> {
    let (data, folder) = (data.display().to_string(), folder.display().to_string());
    let sink = [
        "--data-dir",
        &data,
        "--instance-id",
        FIXED_ID,
        "--sink",
        "local",
        "--landing-dir",
        &folder,
    ];
    sink.iter()
        .chain(&CHILD_FLAGS)
        .map(|s| s.to_string())
        .collect()
}
