//! CompleteMultipartUpload exactly once across a crash and across disk faults (issue 12).
//!
//! The AWS SDKs retry a Complete whose answer they did not get (a 5xx or a dropped
//! connection). Each test makes the first Complete fail at a chosen point with a failpoint,
//! retries it with the same client and asserts: every record lands exactly once, a 2xx only
//! once the records are durable, the same ETag on every success.
//!
//! A crash is simulated as the disk image at that moment: the test's folder (spool, uploads,
//! landed files) is copied while the app is idle right after the failed Complete, and a new
//! app starts on the copy; whatever was fsync'd (and the page cache, as after a process crash)
//! is there, nothing later is.

use std::path::Path;

use crate::support::s3::*;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::CompletedPart;
use landing::StreamConfig;
use landing::sink::LocalSink;

/// Failpoints are process-wide: one test at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const KEY: &str = "mp/once.ndjson";
const ROWS: usize = 3000;

/// The upload's body, `ROWS` NDJSON records, cut in two halves (its parts 1 and 2).
fn halves() -> (Vec<u8>, Vec<u8>) {
    let body: String = (0..ROWS).map(|i| format!("{{\"id\":{i}}}\n")).collect();
    let (a, b) = body.as_bytes().split_at(body.len() / 2);
    (a.to_vec(), b.to_vec())
}

/// Creates an upload of `ROWS` NDJSON records in two parts; returns its id and parts.
async fn upload(c: &aws_sdk_s3::Client) -> (String, Vec<CompletedPart>) {
    let id = create_upload(c, "raw", KEY).await;
    let (a, b) = halves();
    let parts = upload_parts(c, "raw", KEY, &id, [a, b]).await;
    (id, parts)
}

/// Completes the upload: `Ok(etag)` or `Err((code, http status))`.
async fn complete(
    c: &aws_sdk_s3::Client,
    id: &str,
    parts: &[CompletedPart],
) -> Result<String, (String, u16)> {
    complete_upload(c, "raw", KEY, id, parts.to_vec())
        .send()
        .await
        .map(|o| o.e_tag().unwrap_or_default().to_owned())
        .map_err(|e| {
            let code = e.code().unwrap_or("?").to_owned();
            (code, status(&e).unwrap_or(0))
        })
}

/// What a first Complete that failed at a failpoint left: the app, the client that sent it
/// (the retries use the same client, as an SDK's retry would), the upload and the answer.
struct Failed {
    t: S3Test,
    c: aws_sdk_s3::Client,
    id: String,
    parts: Vec<CompletedPart>,
    code: String,
    status: u16,
}

/// Starts the app (`setup`), uploads the records and sends the first Complete with failpoint
/// `point` set to `action`; the failpoint is removed again before this returns.
async fn fail_first_complete(setup: impl FnOnce(&mut Setup), point: &str, action: &str) -> Failed {
    let t = start(setup).await;
    let c = t.client();
    let (id, parts) = upload(&c).await;
    fail::cfg(point, action).unwrap();
    let (code, status) = complete(&c, &id, &parts).await.expect_err(point);
    fail::remove(point);
    Failed {
        t,
        c,
        id,
        parts,
        code,
        status,
    }
}

/// Every record of the upload landed exactly once.
fn assert_exactly_once(lines: &[serde_json::Value]) {
    let recs = records_of(lines, KEY);
    let mut ids: Vec<i64> = recs.iter().map(|r| r["id"].as_i64().expect("id")).collect();
    ids.sort_unstable();
    let want: Vec<i64> = (0..ROWS as i64).collect();
    assert_eq!(ids.len(), ROWS, "landed {} records, sent {ROWS}", ids.len());
    assert_eq!(ids, want, "every record exactly once");
    assert_eq!(lines.len(), ROWS, "nothing else landed");
}

fn copy_dir(from: &Path, to: &Path) {
    let ok = std::process::Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", from.display()))
        .arg(to)
        .status()
        .expect("cp runs")
        .success();
    assert!(ok, "copied the crash image");
}

/// The app restarted on a copy of `t`'s folder taken now (a crash image); `t` is stopped.
async fn crash_and_restart(t: S3Test) -> S3Test {
    crash_and_restart_with(t, |_| {}).await
}

/// As [`crash_and_restart`], the new app's S3 settings changed by `change` (an upgrade).
async fn crash_and_restart_with(
    mut t: S3Test,
    change: impl FnOnce(&mut server::s3::S3Config),
) -> S3Test {
    let image = tempfile::tempdir().expect("tempdir");
    copy_dir(t.dir.path(), image.path());
    // The original is only stopped after the image was taken: what it does then is not seen.
    if let Some(app) = t.app.take() {
        app.stop().await.expect("app stops");
    }
    let (mut config, server) = (t.config.clone(), t.server.clone());
    config.uploads_dir = image.path().join("s3-uploads");
    change(&mut config);
    drop(t);
    let sink = std::sync::Arc::new(LocalSink::new(image.path().join("landing")).expect("sink"));
    let streams = vec![StreamConfig::new("customers"), StreamConfig::new("orders")];
    start_app(image, config, server, streams, 256 << 20, sink).await
}

/// Crash between the durable append and the completion marker, before the batch landed:
/// after the restart the batch lands from the spool, and the retried Complete appends nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_after_append_before_marker_then_retry_lands_once() {
    let _alone = crate::alone();
    let _one = SERIAL.lock().await;
    let scenario = fail::FailScenario::setup();
    let Failed {
        t,
        id,
        parts,
        code,
        status: st,
        ..
    } = fail_first_complete(|_| {}, "s3-complete-marker", "panic").await;
    assert_eq!(st, 500, "{code}");
    // The records are in the spool, unlanded, and the upload is still there.
    assert!(t.files().is_empty(), "nothing landed before the crash");
    let t = crash_and_restart(t).await;
    let c = t.client();
    let first = complete(&c, &id, &parts).await.expect("retried complete");
    let again = complete(&c, &id, &parts).await.expect("a second retry");
    assert_eq!(first, again, "same ETag");
    assert!(first.ends_with("-2\""), "multipart ETag: {first}");
    assert_exactly_once(&t.landed().await);
    // And once more after a clean restart: still nothing appended.
    let t = t.restart().await;
    let c = t.client();
    assert_eq!(
        complete(&c, &id, &parts).await.expect("after restart"),
        first
    );
    assert_exactly_once(&t.landed().await);
    scenario.teardown();
}

/// Crash between the append and the marker after the batch already landed (the clean stop
/// lands it): the key outlives the batch, so the retry still appends nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_after_the_batch_landed_then_retry_lands_once() {
    let _alone = crate::alone();
    let _one = SERIAL.lock().await;
    let scenario = fail::FailScenario::setup();
    let Failed { t, id, parts, .. } =
        fail_first_complete(|_| {}, "s3-complete-marker", "panic").await;
    assert_exactly_once(&t.landed().await);
    let t = crash_and_restart(t).await;
    let c = t.client();
    complete(&c, &id, &parts).await.expect("retried complete");
    assert_exactly_once(&t.landed().await);
    scenario.teardown();
}

/// ENOSPC and EIO while Complete appends (the frame, its fsync, the key's ledger line):
/// 503 SlowDown, nothing kept; the retry once the fault clears lands every record once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_faults_on_complete_answer_503_and_the_retry_lands_once() {
    let _alone = crate::alone();
    let _one = SERIAL.lock().await;
    let scenario = fail::FailScenario::setup();
    for (point, err) in [
        ("spool-segment-append", "enospc"),
        ("spool-segment-sync", "eio"),
        ("spool-keys-record", "enospc"),
    ] {
        let Failed {
            t,
            c,
            id,
            parts,
            code,
            status: st,
        } = fail_first_complete(|_| {}, point, &format!("return({err})")).await;
        assert_eq!((code.as_str(), st), ("SlowDown", 503), "{point}");
        let etag = complete(&c, &id, &parts)
            .await
            .expect("retry after the fault");
        assert_eq!(complete(&c, &id, &parts).await.expect("again"), etag);
        let lines = t.landed().await;
        assert_exactly_once(&lines);
        // A crash image after all that: still exactly once.
        let t = crash_and_restart(t).await;
        complete(&t.client(), &id, &parts)
            .await
            .expect("after crash");
        assert_exactly_once(&t.landed().await);
    }
    scenario.teardown();
}

/// Chunks of 1 KiB: the upload's ~36 KB of records are appended in many chunks.
fn small_chunks(s: &mut Setup) {
    s.s3.complete_chunk_bytes = 1024;
}

/// Crash after chunk 3 of many was appended: the retried Complete (after the restart) skips
/// chunks 0..=3, appends the rest, and every record lands exactly once. Before that, a retry
/// listing other parts is refused: its chunks would not be the same chunks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_after_a_chunk_then_retry_appends_the_rest_once() {
    let _alone = crate::alone();
    let _one = SERIAL.lock().await;
    let scenario = fail::FailScenario::setup();
    // Off for chunks 0, 1 and 2; the crash comes right after chunk 3 is durable.
    let Failed {
        t,
        id,
        parts,
        code,
        status: st,
        ..
    } = fail_first_complete(small_chunks, "s3-complete-chunk", "3*off->panic").await;
    assert_eq!(st, 500, "{code}");
    let t = crash_and_restart(t).await;
    let c = t.client();
    let (code, st) = complete(&c, &id, &parts[..1])
        .await
        .expect_err("other parts");
    assert_eq!((code.as_str(), st), ("InvalidPart", 400));
    let etag = complete(&c, &id, &parts).await.expect("retried complete");
    assert!(etag.ends_with("-2\""), "multipart ETag: {etag}");
    assert_eq!(complete(&c, &id, &parts).await.expect("again"), etag);
    assert_exactly_once(&t.landed().await);
    scenario.teardown();
}

/// Crash after chunk 3, then a restart on a version that cuts objects into chunks of another
/// size: the retry cuts the object as the first attempt recorded, so the chunks it skips as
/// taken are the chunks that were appended (cut anew, chunks 0..=3 would be other records,
/// and those between would never land).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_an_upgrade_cuts_the_object_as_the_first_attempt_did() {
    let _alone = crate::alone();
    let _one = SERIAL.lock().await;
    let scenario = fail::FailScenario::setup();
    let Failed { t, id, parts, .. } =
        fail_first_complete(small_chunks, "s3-complete-chunk", "3*off->panic").await;
    let t = crash_and_restart_with(t, |c| c.complete_chunk_bytes = 3 * 1024).await;
    let c = t.client();
    complete(&c, &id, &parts).await.expect("retried complete");
    assert_exactly_once(&t.landed().await);
    scenario.teardown();
}

/// A SlowDown on a later chunk says which chunks are durable and that the retry resumes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_later_chunk_says_what_is_durable() {
    let _alone = crate::alone();
    let _one = SERIAL.lock().await;
    let scenario = fail::FailScenario::setup();
    let t = start(small_chunks).await;
    let c = t.client();
    let (id, parts) = upload(&c).await;
    fail::cfg("spool-segment-append", "5*off->return(enospc)").unwrap();
    let err = complete_upload(&c, "raw", KEY, &id, parts.clone())
        .send()
        .await
        .expect_err("a full disk on chunk 5");
    fail::remove("spool-segment-append");
    assert_eq!(err.code(), Some("SlowDown"), "{err:?}");
    let message = err.message().unwrap_or_default();
    assert!(
        message.contains("Chunks 0..=4 of the object are durable")
            && message.contains("resumes at chunk 5"),
        "{message}"
    );
    complete(&c, &id, &parts).await.expect("retry");
    assert_exactly_once(&t.landed().await);
    scenario.teardown();
}

/// A Complete that fails after some chunks without a crash (and one that hits a full disk
/// on a later chunk), retried in the same process: exactly once. A part re-uploaded with
/// other bytes in between is refused, the original is still accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_complete_after_some_chunks_retries_once() {
    let _alone = crate::alone();
    let _one = SERIAL.lock().await;
    let scenario = fail::FailScenario::setup();
    for (point, action) in [
        ("s3-complete-chunk", "1*off->return"),
        ("spool-segment-append", "5*off->return(enospc)"),
    ] {
        let Failed {
            t,
            c,
            id,
            parts,
            code,
            status: st,
        } = fail_first_complete(small_chunks, point, action).await;
        assert!(
            st == 500 || (code.as_str(), st) == ("SlowDown", 503),
            "{point}: {code} {st}"
        );
        // Part 2 again with other bytes: a Complete listing its new ETag is refused.
        let changed = vec![
            parts[0].clone(),
            upload_part(&c, "raw", KEY, &id, 2, b"{\"id\":-1}\n".to_vec()).await,
        ];
        let (code, st) = complete(&c, &id, &changed).await.expect_err("changed part");
        assert_eq!((code.as_str(), st), ("InvalidPart", 400), "{point}");
        // The original part 2 is gone (replaced), so put it back as it was, then retry.
        let (_, again) = halves();
        upload_part(&c, "raw", KEY, &id, 2, again).await;
        complete(&c, &id, &parts).await.expect("retry");
        assert_exactly_once(&t.landed().await);
    }
    scenario.teardown();
}
