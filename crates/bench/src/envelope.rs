//! Issue 14's landed-bytes goal (a record without attributes costs <= 1.3x its own size in
//! the uncompressed landed line), measured end to end for both envelopes: the same NDJSON
//! bodies go through a fresh snowstream app (as `snowstream serve` starts it) whose stream has
//! `--envelope record`, then one with `--envelope meta`; each lands into its own folder, which
//! is read back like the main run's ([`verify::scan`]).

use anyhow::{Context, Result};
use futures::StreamExt;
use records::landed::Envelope;

use crate::cli::Cli;
use crate::harness::Harness;
use crate::targets::{self, LandingSettings};
use crate::workload::Payload;
use crate::{report, verify};

/// Bodies sent to each envelope's app (the first of the pool).
const BODIES: usize = 4;

/// Bytes per uncompressed landed line and records landed, for one envelope.
fn measure(
    h: &Harness,
    settings: &LandingSettings,
    envelope: Envelope,
    bodies: &[Payload],
) -> Result<(f64, u64)> {
    let dir = h.dir.path().join(format!("envelope-{envelope}"));
    std::fs::create_dir_all(&dir).context("creating the envelope bench folder")?;
    let settings = LandingSettings {
        envelope,
        ..settings.clone()
    };
    let mut snow = h
        .server_rt
        .block_on(targets::start_snowstream(&dir, &settings))?;
    let url = format!("http://{}{}", snow.addr, targets::PATH);
    let sent: u64 = bodies.iter().map(|p| p.records).sum();
    let client = reqwest::Client::new();
    let refused = h.client_rt.block_on(async {
        futures::stream::iter(bodies)
            .map(|p| {
                client
                    .post(&url)
                    .header("content-type", "application/x-ndjson")
                    .body(p.body.clone())
                    .send()
            })
            .buffer_unordered(4)
            .filter(|r| {
                let ok = r.as_ref().is_ok_and(|r| r.status().is_success());
                futures::future::ready(!ok)
            })
            .count()
            .await
    });
    anyhow::ensure!(
        refused == 0,
        "{refused} of the {envelope} bodies were not accepted"
    );
    h.server_rt.block_on(snow.landing.flush());
    h.server_rt.block_on(snow.stop())?;
    let landed = verify::scan(&dir.join("landing"), 1)?;
    anyhow::ensure!(
        landed.lines == sent && landed.problems.is_empty(),
        "envelope {envelope}: {} lines landed for {sent} records sent: {:?}",
        landed.lines,
        landed.problems
    );
    Ok((
        landed.uncompressed_bytes as f64 / landed.lines.max(1) as f64,
        landed.lines,
    ))
}

/// Prints the goal line (record envelope) with the meta figure beside it; false when a
/// measurement failed.
pub fn check(h: &Harness, cli: &Cli, bodies: &[Payload], record_bytes: f64) -> bool {
    let settings = &LandingSettings {
        ack: cli.ack,
        compression: cli.compression,
        // Bytes, not back-pressure, are measured here: the run's spool limit (which may be
        // tiny on purpose, to provoke 503s) would refuse the bodies.
        spool_max_bytes: cli.spool_max_bytes.max(1 << 30),
        envelope: Envelope::Meta,
        encode_concurrency: cli.encode_concurrency,
    };
    let bodies = &bodies[..bodies.len().min(BODIES)];
    let run = || -> Result<_> {
        Ok((
            measure(h, settings, Envelope::Record, bodies)?,
            measure(h, settings, Envelope::Meta, bodies)?,
        ))
    };
    match run() {
        Ok(((record, n), (meta, _))) => {
            let r = record / record_bytes.max(1.0);
            println!(
                "  landed bytes (issue 14 goal, --envelope record, {n} records of {} bodies): \
                 {record:.0} bytes per uncompressed landed line for a {record_bytes:.0}-byte \
                 record = {r:.2}x  (goal <= 1.30x): {}; --envelope meta: {meta:.0} bytes = {:.2}x",
                bodies.len(),
                report::verdict(r <= 1.3),
                meta / record_bytes.max(1.0)
            );
            true
        }
        Err(e) => {
            println!("PROBLEM: the landed-bytes measurement failed: {e:#}");
            false
        }
    }
}
