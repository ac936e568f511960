//! Kill the server with SIGKILL in the middle of a load, restart it, and check that every
//! acknowledged record landed exactly once (and nothing landed twice).

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use testkit::{ServerProcess, free_port, landed_lines};

use crate::support::inprocess::post_ids;

const CLIENTS: u64 = 8;
const RECORDS_PER_REQUEST: u64 = 20;
const MAX_REQUESTS_PER_CLIENT: u64 = 2_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_load_loses_no_acknowledged_record() {
    let dir = tempfile::tempdir().unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_snowstream"));
    let data = dir.path().to_str().unwrap().to_owned();
    let args: Vec<String> = [
        "--data-dir",
        &data,
        "--instance-id",
        "crash-1",
        "--batch-max-age",
        "200ms",
        "--batch-max-records",
        "700",
    ]
    .map(str::to_owned)
    .to_vec();
    let port = free_port();
    let start = move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        ServerProcess::start(bin, port, &a, &[])
    };
    let server = start();
    let url = format!("{}/contentListener", server.base);

    let acked: Arc<Mutex<Vec<u64>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let ok_requests = Arc::new(AtomicUsize::new(0));
    let http = reqwest::Client::new();
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let (acked, stop, ok, http, url) = (
            acked.clone(),
            stop.clone(),
            ok_requests.clone(),
            http.clone(),
            url.clone(),
        );
        clients.push(tokio::spawn(async move {
            for r in 0..MAX_REQUESTS_PER_CLIENT {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let ids: Vec<u64> = (0..RECORDS_PER_REQUEST)
                    .map(|i| c * 10_000_000 + r * RECORDS_PER_REQUEST + i)
                    .collect();
                let resp = post_ids(&http, &url, &ids)
                    .timeout(Duration::from_secs(10))
                    .send()
                    .await;
                match resp {
                    Ok(r) if r.status().is_success() => {
                        acked.lock().unwrap().extend(ids);
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    // The server died under us: this request is not acknowledged.
                    _ => break,
                }
            }
        }));
    }
    // Let the load run until a good number of requests were acknowledged, then kill -9.
    for _ in 0..200 {
        if ok_requests.load(Ordering::Relaxed) >= 400 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(
        ok_requests.load(Ordering::Relaxed) > 0,
        "no request was acknowledged"
    );
    tokio::task::spawn_blocking(move || server.kill())
        .await
        .unwrap();
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.await.unwrap();
    }
    let acked = std::mem::take(&mut *acked.lock().unwrap());

    // Restart on the same data directory: the spool is recovered and landed; then a clean stop.
    let server = tokio::task::spawn_blocking(start).await.unwrap();
    let code = tokio::task::spawn_blocking(move || server.terminate(Duration::from_secs(60)))
        .await
        .unwrap();
    assert_eq!(code, Some(0), "clean exit after SIGTERM");

    let mut seen: HashMap<u64, usize> = HashMap::new();
    let mut seqs = Vec::new();
    for line in landed_lines(&dir.path().join("landing")) {
        *seen
            .entry(line["record"]["id"].as_u64().unwrap())
            .or_default() += 1;
        seqs.push(line["meta"]["seq"].as_u64().unwrap());
    }
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "records landed more than once: {:?}",
        &twice[..twice.len().min(5)]
    );
    let lost: Vec<_> = acked.iter().filter(|id| !seen.contains_key(id)).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged records lost, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(
        seqs.len(),
        seen.values().sum::<usize>(),
        "sequence numbers are unique"
    );
    eprintln!(
        "acknowledged {} records before SIGKILL; {} landed after restart",
        acked.len(),
        seen.len()
    );
}
