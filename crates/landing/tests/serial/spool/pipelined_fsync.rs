//! Failed fsyncs while the spool writer pipelines them (the next group is written while the
//! previous group's fsync runs on the sync thread): with many requests in flight and every
//! few fsyncs failing, each request is either acknowledged after a good fsync or refused, a
//! refused request's frame never lands, and the clients' retries land every record exactly
//! once with no sequence gap.
//!
//! The fault is the `spool-segment-sync` failpoint (process-wide registry: `FailScenario::setup`
//! serializes the tests of this binary, see `main.rs`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use landing::sink::LocalSink;
use landing::{AppendError, Landing, LandingConfig, StreamConfig};
use testkit::faults::id_batch;

const CLIENTS: u64 = 32;
const PER_CLIENT: u64 = 25;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_through_failing_fsyncs_land_exactly_once() {
    let scenario = fail::FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    let landing_dir = dir.path().join("landing");
    let landing = Arc::new(
        Landing::start(
            LandingConfig {
                spool_dir: dir.path().join("spool"),
                instance: "t".into(),
                spool_max_bytes: 64 << 20,
                streams: vec![StreamConfig::new("customers")],
            },
            Arc::new(LocalSink::new(&landing_dir).unwrap()),
        )
        .unwrap(),
    );
    // Every fourth fsync fails (the writer's own and the sync thread's alike).
    fail::cfg(
        "spool-segment-sync",
        "3*off->1*return(eio)->3*off->1*return->3*off->1*return(eio)->3*off->1*return->off",
    )
    .unwrap();

    let deadline = Instant::now() + Duration::from_secs(60);
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let landing = landing.clone();
            tokio::spawn(async move {
                let mut acked = Vec::new();
                let mut refused = 0u32;
                for n in 0..PER_CLIENT {
                    let id = c * PER_CLIENT + n + 1;
                    // A refused request is retried, as a client does, a bounded number of times.
                    for _ in 0..20 {
                        assert!(Instant::now() < deadline, "bounded in time");
                        match landing.append("customers", id_batch(id)).await {
                            Ok(r) => {
                                acked.push((r.first_seq, id));
                                break;
                            }
                            Err(e @ AppendError::DiskFault(_)) => {
                                assert!(e.is_retryable());
                                refused += 1;
                            }
                            Err(e) => panic!("want an ack or a DiskFault, got {e:?}"),
                        }
                    }
                }
                (acked, refused)
            })
        })
        .collect();
    let mut acked = BTreeMap::new();
    let mut refused = 0;
    for t in tasks {
        let (a, r) = t.await.unwrap();
        refused += r;
        for (seq, id) in a {
            assert!(
                acked.insert(seq, id).is_none(),
                "one sequence number per ack"
            );
        }
    }
    fail::remove("spool-segment-sync");
    assert!(refused > 0, "the failpoint refused some requests");
    assert_eq!(
        acked.len() as u64,
        CLIENTS * PER_CLIENT,
        "every id acknowledged once"
    );

    tokio::time::timeout(Duration::from_secs(30), landing.flush())
        .await
        .unwrap();
    let landed: BTreeMap<u64, u64> = testkit::landed_lines(&landing_dir)
        .iter()
        .map(|l| {
            (
                l["meta"]["seq"].as_u64().unwrap(),
                l["record"]["id"].as_u64().unwrap(),
            )
        })
        .collect();
    let lines = testkit::landed_lines(&landing_dir).len();
    assert_eq!(lines, landed.len(), "no sequence number lands twice");
    assert_eq!(
        landed, acked,
        "exactly the acknowledged records land, under the sequence numbers acknowledged"
    );
    let seqs: Vec<u64> = landed.keys().copied().collect();
    let want: Vec<u64> = (1..=CLIENTS * PER_CLIENT).collect();
    assert_eq!(seqs, want, "no sequence gap: refused frames were cut off");
    landing.shutdown().await;
    scenario.teardown();
}
