//! Issue 27's memory goal for large inputs: "peak RSS ≤ 256 MiB whatever the sizes", with 8
//! concurrent 256 MiB HTTP bodies and a 1 GiB S3 object. A separate `snowstream serve` child
//! as shipped (local landing folder, S3 API on 127.0.0.1; `--max-request-size` raised so that
//! such a body, whose landed lines repeat its attributes, is accepted, and the spool sized for
//! them) takes eight concurrent POSTs of `--body-rss-bytes` of NDJSON each (~140-byte records,
//! sent chunked as they are generated, as InvokeHTTP streams a large FlowFile), then one
//! multipart upload of `--object-rss-bytes` in 64 MiB parts (PutS3Object's part size in the
//! shipped flow). Its `VmHWM` (proc(5)) is read until it exits after landing everything; then
//! every record of every acknowledged body and of the object must have landed exactly once.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use testkit::s3_child::{start_child, terminate_child};

use crate::batch_rss::sample_until_exit;
use crate::cli::Cli;
use crate::clients;
use crate::overload::count_landed;
use crate::proc;
use crate::s3load::{ACCESS_KEY, BUCKET, SECRET_KEY};
use crate::show::{mib, verdict};

/// The goal, and its body size and concurrency, and its object size.
const GOAL_RSS: u64 = 256 << 20;
const GOAL_BODY: u64 = 256 << 20;
const GOAL_OBJECT: u64 = 1 << 30;
/// The object's part size, and its records' ids (after the bodies').
const OBJECT_PART: u64 = 64 << 20;
const OBJECT_IDS: u64 = CLIENTS * CLIENT_IDS;
const CLIENTS: u64 = 8;
/// Ids of client `c` are `c * CLIENT_IDS ..`.
const CLIENT_IDS: u64 = 1 << 32;
/// Bytes of records generated per chunk of a body.
const CHUNK: usize = 1 << 20;
const INSTANCE: &str = "bench-body-rss";
/// SIGTERM lands the child's whole spool before it exits; at most this long.
const STOP_LIMIT: Duration = Duration::from_secs(900);

/// What the phase measured.
pub struct BodyRss {
    pub peak: u64,
    pub idle: u64,
    /// Each body's bytes, and how many of the eight were acknowledged.
    pub body: u64,
    pub acked_bodies: u64,
    /// The object's bytes, and whether it was acknowledged.
    pub object: u64,
    pub acked_object: bool,
    pub load_secs: f64,
    pub stop_secs: f64,
    /// Why exactly-once failed, or an answer other than 200, if any.
    pub problems: Vec<String>,
}

/// Runs the phase unless `--body-rss-bytes` is 0.
pub fn run(cli: &Cli, dir: &Path) -> Option<Result<BodyRss>> {
    if cli.body_rss_bytes == 0 {
        return None;
    }
    Some(
        clients::snowstream_bin(cli.snowstream_bin.as_deref()).and_then(|bin| {
            eprintln!(
                "sending {CLIENTS} concurrent bodies of {} to a snowstream serve child...",
                mib(cli.body_rss_bytes)
            );
            let sizes = (cli.body_rss_bytes, cli.object_rss_bytes);
            clients::block_on(measure(sizes, &bin, &dir.join("body-rss")))
        }),
    )
}

async fn measure((body, object): (u64, u64), bin: &Path, dir: &Path) -> Result<BodyRss> {
    let data = dir.join("data");
    let (port, s3_port) = (testkit::free_port(), testkit::free_port());
    let args: Vec<String> = [
        "--s3-listen",
        &format!("127.0.0.1:{s3_port}"),
        "--s3-credentials",
        &format!("{ACCESS_KEY}:{SECRET_KEY}"),
        "--s3-buckets",
        &format!("{BUCKET}=customers"),
        "--data-dir",
        &data.display().to_string(),
        "--instance-id",
        INSTANCE,
        "--max-request-size",
        "4GiB",
        "--spool-max-bytes",
        "12GiB",
        "--shutdown-timeout",
        "15m",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    let server = start_child(bin, port, &args)
        .await
        .map_err(|_| anyhow::anyhow!("snowstream serve {} did not start", args.join(" ")))?;
    let pid = server.pid();
    let idle = proc::peak_rss_of(pid).context("VmHWM of the child")?;
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        std::thread::spawn(move || sample_until_exit(pid, &stop))
    };
    let http = reqwest::Client::builder().no_proxy().build()?;
    let url = format!("http://127.0.0.1:{port}/contentListener");
    let started = Instant::now();
    let posts: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (http, url) = (http.clone(), url.clone());
            tokio::spawn(async move { post(&http, &url, c * CLIENT_IDS, body).await })
        })
        .collect();
    let mut acked = Vec::new();
    let mut problems = Vec::new();
    let mut acked_bodies = 0;
    for p in posts {
        match p.await? {
            Ok(ids) => {
                acked_bodies += 1;
                acked.extend(ids);
            }
            Err(e) => problems.push(format!("{e:#}")),
        }
    }
    let mut acked_object = false;
    if object > 0 {
        let endpoint = format!("http://127.0.0.1:{s3_port}");
        let client = crate::s3load::client(&endpoint, Duration::from_secs(600));
        let parts = object.div_ceil(OBJECT_PART);
        let (tx, ids) = std::sync::mpsc::channel();
        let made = (0..parts).map(move |p| {
            let size = OBJECT_PART.min(object - p * OBJECT_PART);
            let first = OBJECT_IDS + p * (OBJECT_PART / 100);
            let (part, end) = records_from(first, size);
            let _ = tx.send(first..end);
            bytes::Bytes::from(part)
        });
        match crate::s3load::upload_object(&client, "large/object.ndjson", made).await {
            Ok(()) => {
                acked_object = true;
                acked.extend(ids.try_iter().flatten());
            }
            Err(e) => problems.push(format!("the {} object: {e:#}", mib(object))),
        }
    }
    let load_secs = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let code = terminate_child(server, STOP_LIMIT).await?;
    let stop_secs = started.elapsed().as_secs_f64();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let peak = sampler.join().expect("memory sampler");
    ensure!(
        code == Some(0),
        "snowstream exited with {code:?} after SIGTERM"
    );
    let (_, twice, lost, unacked) = count_landed(&data.join("landing"), &acked, &[]);
    if twice + lost + unacked > 0 {
        problems.push(format!(
            "{} acknowledged: {lost} lost, {twice} landed twice, {unacked} landed without an ack",
            acked.len()
        ));
    }
    Ok(BodyRss {
        peak,
        idle,
        body,
        acked_bodies,
        object,
        acked_object,
        load_secs,
        stop_secs,
        problems,
    })
}

/// POSTs one body of about `bytes` of records with ids from `first`, generated a chunk at a
/// time as it is sent; the ids when it is acknowledged.
async fn post(http: &reqwest::Client, url: &str, first: u64, bytes: u64) -> Result<Vec<u64>> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(2);
    let generator = tokio::task::spawn_blocking(move || {
        let (mut id, mut sent) = (first, 0u64);
        while sent < bytes {
            let mut chunk = Vec::with_capacity(CHUNK + 256);
            while chunk.len() < CHUNK && sent + (chunk.len() as u64) < bytes {
                chunk.extend_from_slice(record(id).as_bytes());
                id += 1;
            }
            sent += chunk.len() as u64;
            if tx.blocking_send(Ok(chunk)).is_err() {
                break;
            }
        }
        id
    });
    let stream = futures::stream::unfold(rx, |mut rx| async { rx.recv().await.map(|c| (c, rx)) });
    let resp = http
        .post(url)
        .header("content-type", "application/x-ndjson")
        .body(reqwest::Body::wrap_stream(stream))
        .timeout(Duration::from_secs(600))
        .send()
        .await
        .context("POST")?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    let end = generator.await?;
    ensure!(status == 200, "a body got {status}: {}", text.trim());
    Ok((first..end).collect())
}

/// Records with ids from `first`, `bytes` long or a little less (whole records), and the id
/// after the last. At most one record per 100 bytes, so a part's ids stay in its range.
fn records_from(first: u64, bytes: u64) -> (Vec<u8>, u64) {
    let mut out = Vec::with_capacity(bytes as usize);
    let mut id = first;
    loop {
        let r = record(id);
        if (out.len() + r.len()) as u64 > bytes {
            return (out, id);
        }
        out.extend_from_slice(r.as_bytes());
        id += 1;
    }
}

/// One record of ~140 bytes, the same for the same id.
fn record(id: u64) -> String {
    const CITIES: [&str; 4] = ["Zurich", "Berlin", "Lyon", "Porto"];
    format!(
        "{{\"id\":{id},\"name\":\"customer-{id}\",\"email\":\"c{id}@example.com\",\"city\":\"{}\",\
         \"note\":\"{:032x}\"}}\n",
        CITIES[(id % 4) as usize],
        u128::from(id).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)
    )
}

/// Prints the goal line (in the goals block).
pub fn report(phase: &Result<BodyRss>) {
    let m = match phase {
        Ok(m) => m,
        Err(e) => {
            println!(
                "  large-input memory ({CLIENTS} concurrent bodies, an object): FAILED: {e:#}"
            );
            return;
        }
    };
    println!(
        "  large-input memory ({CLIENTS} concurrent NDJSON HTTP bodies of {} each, then a {} \
         S3 object in 64 MiB parts; snowstream serve child, VmHWM): peak RSS {} MiB (limit {} \
         MiB) = {:.2}  ({} of {CLIENTS} bodies{} acknowledged in {:.1} s, {:.1} s to land the \
         rest and exit; idle {}): {}",
        mib(m.body),
        mib(m.object),
        m.peak >> 20,
        GOAL_RSS >> 20,
        m.peak as f64 / GOAL_RSS as f64,
        m.acked_bodies,
        if m.acked_object {
            " and the object"
        } else {
            ""
        },
        m.load_secs,
        m.stop_secs,
        mib(m.idle),
        if m.body < GOAL_BODY || m.object < GOAL_OBJECT {
            "NOT MEASURED as the goal (bodies under 256 MiB or an object under 1 GiB; \
             --body-rss-bytes, --object-rss-bytes)"
        } else {
            verdict(m.peak <= GOAL_RSS && m.acked_bodies == CLIENTS && m.acked_object)
        }
    );
    if m.problems.is_empty() {
        println!(
            "      VERIFIED: every body and the object acknowledged, each record landed exactly once"
        );
    } else {
        for p in &m.problems {
            println!("      PROBLEM: {p}");
        }
    }
}

/// Whether the phase ran and found every record of every body exactly once.
pub fn passed(phase: &Result<BodyRss>) -> bool {
    phase.as_ref().is_ok_and(|m| m.problems.is_empty())
}
