//! Two `snowstream serve` processes on one host landing into one target (issue 22), as the
//! README's "Running more than one" describes: each with its own data directory, the same
//! landing folder or bucket, the same host name. Every acknowledged record must land exactly
//! once, measured on what landed.
//!
//! Before the fix the default instance id was the host name alone: both processes cut batches
//! under the same keys, every file of one replaced the other's (6,000 acknowledged, 3,000
//! landed). Now the default id carries a tag kept in the data directory, and even two
//! processes given one `--instance-id` lose nothing: the sinks are create-only, and a batch
//! that finds another one under its key lands under a key of its own.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use testkit::s3_child::{OutageS3, S3_CHILD_ENV};
use testkit::{ServerProcess, free_port, landed_lines};

use crate::support::inprocess::post_ids;

const REQUESTS: u64 = 60;
const RECORDS: u64 = 50;
/// Requests in flight at once against each instance.
const CLIENTS: u64 = 4;

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_snowstream"))
}

/// Starts one instance on a free port with `args`, as a process on host `one-host`.
async fn start(args: Vec<String>) -> ServerProcess {
    tokio::task::spawn_blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut env = S3_CHILD_ENV.to_vec();
        env.push(("HOSTNAME", "one-host"));
        ServerProcess::start(bin(), free_port(), &a, &env)
    })
    .await
    .unwrap()
}

/// Arguments every instance gets: its data directory, small batches (many files, low
/// sequence numbers: the keys of two instances meet at once), then `extra`.
fn args(data: &Path, extra: &[&str]) -> Vec<String> {
    let data = data.display().to_string();
    [
        "--data-dir",
        &data,
        "--batch-max-records",
        "50",
        "--batch-max-age",
        "200ms",
    ]
    .iter()
    .chain(extra)
    .map(|s| s.to_string())
    .collect()
}

/// Posts `REQUESTS` NDJSON requests of `RECORDS` records to `base`, `CLIENTS` at a time;
/// the ids (unique across instances through `tag`) of every acknowledged record.
async fn load(base: String, tag: u64) -> Vec<u64> {
    let http = reqwest::Client::new();
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let (http, url) = (http.clone(), format!("{base}/contentListener"));
        clients.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for r in (c..REQUESTS).step_by(CLIENTS as usize) {
                let ids: Vec<u64> = (0..RECORDS)
                    .map(|i| tag * 1_000_000 + r * RECORDS + i)
                    .collect();
                let resp = post_ids(&http, &url, &ids)
                    .timeout(Duration::from_secs(30))
                    .send()
                    .await
                    .expect("post");
                assert!(resp.status().is_success(), "{}", resp.status());
                acked.extend(ids);
            }
            acked
        }));
    }
    let mut acked = Vec::new();
    for c in clients {
        acked.extend(c.await.unwrap());
    }
    acked
}

/// Runs the load against both instances at once, stops them (SIGTERM lands the spool) and
/// checks what landed under `landed` against what was acknowledged: 0 lost, 0 twice. Returns
/// the landed files.
async fn run_two(a: ServerProcess, b: ServerProcess, landed: &Path) -> Vec<PathBuf> {
    let (acked_a, acked_b) = tokio::join!(load(a.base.clone(), 1), load(b.base.clone(), 2));
    for s in [a, b] {
        let code = tokio::task::spawn_blocking(move || s.terminate(Duration::from_secs(60)))
            .await
            .unwrap();
        assert_eq!(code, Some(0), "clean exit after SIGTERM");
    }
    let acked: Vec<u64> = acked_a.into_iter().chain(acked_b).collect();
    assert_eq!(acked.len() as u64, 2 * REQUESTS * RECORDS);
    let mut seen: HashMap<u64, usize> = HashMap::new();
    for line in landed_lines(landed) {
        *seen
            .entry(line["record"]["id"].as_u64().unwrap())
            .or_default() += 1;
    }
    let lost = acked.iter().filter(|id| !seen.contains_key(id)).count();
    let twice = seen.values().filter(|n| **n > 1).count();
    assert_eq!(
        (lost, twice, seen.len()),
        (0, 0, acked.len()),
        "acknowledged {}, landed {} distinct: lost {lost}, landed twice {twice}",
        acked.len(),
        seen.len()
    );
    testkit::landed_files(landed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_host_share_a_landing_folder() {
    let dir = tempfile::tempdir().unwrap();
    let landing = dir.path().join("landing");
    let shared = landing.display().to_string();
    let extra = ["--landing-dir", shared.as_str()];
    let a = start(args(&dir.path().join("a"), &extra)).await;
    let b = start(args(&dir.path().join("b"), &extra)).await;
    let files = run_two(a, b, &landing).await;
    // Two instance ids, both made from the one host name.
    let ids: std::collections::BTreeSet<String> = files
        .iter()
        .map(|f| {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            name.rsplit_once('-').unwrap().0.to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids.iter().all(|i| i.starts_with("one-host-")), "{ids:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_host_share_a_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = OutageS3::start(&dir.path().join("store"), "landing").await;
    let endpoint = s3.endpoint();
    let extra = [
        "--sink",
        "s3",
        "--s3-bucket",
        "landing",
        "--s3-endpoint-url",
        endpoint.as_str(),
        "--s3-region",
        "us-east-1",
    ];
    let a = start(args(&dir.path().join("a"), &extra)).await;
    let b = start(args(&dir.path().join("b"), &extra)).await;
    run_two(a, b, &s3.bucket_dir()).await;
}

/// A configuration copied with a fixed `--instance-id`: every batch of one finds the other's
/// under its key. Nothing is replaced; the later one lands under a key of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_given_one_id_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let landing = dir.path().join("landing");
    let shared = landing.display().to_string();
    let extra = ["--landing-dir", shared.as_str(), "--instance-id", "copied"];
    let a = start(args(&dir.path().join("a"), &extra)).await;
    let b = start(args(&dir.path().join("b"), &extra)).await;
    let files = run_two(a, b, &landing).await;
    let own = files
        .iter()
        .filter(|f| f.to_string_lossy().contains("/copied.x"))
        .count();
    assert!(own > 0, "no batch landed under a collision key: {files:?}");
}
