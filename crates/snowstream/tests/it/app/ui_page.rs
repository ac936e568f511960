//! The live page in a real browser (issue 15): Debian's headless `chromium` loads `GET /ui`
//! twice while records are being posted; the page fetches `/api/status` and renders it, and
//! the second rendering shows more acknowledged records and more chart points than the first.
//! Then it saves a screenshot (target/ui-test/ui.png; `SNOWSTREAM_UI_SCREENSHOT=PATH` copies
//! it there, which is how docs/ui.png is made).
//!
//! Without chromium the test skips with a message, unless `SNOWSTREAM_REQUIRE_CHROMIUM=1`
//! (as in CI, where scripts/setup-ui-tools.sh installs it).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::support::inprocess::settings;
use snowstream::App;

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|d| d.join(name))
                    .find(|p| p.is_file())
            })
        })
}

/// Runs headless chromium on `url` with `extra` flags (a fresh profile each time); its stdout.
fn run_chromium(bin: &Path, profile: &Path, url: &str, extra: &[&str]) -> String {
    let out = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--window-size=1280,1000",
            // Lets the page's first fetches of /api/status finish before the DOM is dumped.
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What the rendered page shows for the stream: acknowledged records and chart points.
fn rendered(dom: &str) -> (u64, u64) {
    let grab = |re: &str| -> u64 {
        let re = regex::Regex::new(re).unwrap();
        let c = re
            .captures(dom)
            .unwrap_or_else(|| panic!("{re} not in the rendered page:\n{dom}"));
        c[1].parse().unwrap()
    };
    let records = grab(
        r#"data-stream="customers".*?kpi records-total"><div class="label">[^<]*</div><div class="value" data-value="(\d+)""#,
    );
    let points = grab(r#"data-stream="customers".*?<svg class="chart"[^>]*data-points="(\d+)""#);
    (records, points)
}

async fn status(http: &reqwest::Client, base: &str) -> serde_json::Value {
    let r = http.get(format!("{base}/api/status")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_renders_live_numbers_in_headless_chromium() {
    let Some(bin) = chromium() else {
        if std::env::var("SNOWSTREAM_REQUIRE_CHROMIUM").is_ok_and(|v| v == "1") {
            panic!("chromium not found; run scripts/setup-ui-tools.sh");
        }
        eprintln!("skipping: chromium not found (scripts/setup-ui-tools.sh installs it)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let app = App::start(settings(dir.path(), &["--batch-max-age", "500ms"]))
        .await
        .unwrap();
    let base = format!("http://{}", app.addr());
    let http = reqwest::Client::new();

    // Post records until told to stop (bounded: at most 3,000 requests or 120 s).
    let stop = Arc::new(AtomicBool::new(false));
    let poster = {
        let (http, stop, url) = (
            http.clone(),
            stop.clone(),
            format!("{base}/contentListener/customers"),
        );
        tokio::spawn(async move {
            let start = Instant::now();
            let mut acked = 0u64;
            for i in 0..3_000u64 {
                if stop.load(Ordering::Relaxed) || start.elapsed() > Duration::from_secs(120) {
                    break;
                }
                let body: String = (0..20)
                    .map(|j| {
                        format!(
                            "{{\"id\": {}, \"name\": \"customer {i}-{j}\"}}\n",
                            i * 20 + j
                        )
                    })
                    .collect();
                let r = http
                    .post(&url)
                    .header("content-type", "application/x-ndjson")
                    .body(body)
                    .send()
                    .await;
                if r.is_ok_and(|r| r.status() == 200) {
                    acked += 20;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            acked
        })
    };

    // Wait until the API has two rate points, so the first rendering has a chart.
    let wait_points = async |n: usize| {
        let start = Instant::now();
        loop {
            let s = status(&http, &base).await;
            if s["streams"][0]["rate"].as_array().unwrap().len() >= n {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "no rate samples: {s}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    wait_points(2).await;
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ui-test");
    std::fs::create_dir_all(&out).unwrap();
    let url = format!("{base}/ui");
    let bin2 = bin.clone();
    let (p1, u1) = (dir.path().join("chromium-1"), url.clone());
    let first = tokio::task::spawn_blocking(move || run_chromium(&bin2, &p1, &u1, &["--dump-dom"]))
        .await
        .unwrap();
    let (records1, points1) = rendered(&first);
    assert!(
        records1 > 0 && points1 >= 2,
        "first rendering: {records1} records, {points1} points"
    );

    // Two more samples later (the sampler takes one every 2 s), render again.
    wait_points(points1 as usize + 2).await;
    let (bin2, p2, u2) = (bin.clone(), dir.path().join("chromium-2"), url.clone());
    let second =
        tokio::task::spawn_blocking(move || run_chromium(&bin2, &p2, &u2, &["--dump-dom"]))
            .await
            .unwrap();
    let (records2, points2) = rendered(&second);
    assert!(
        records2 > records1,
        "records did not increase: {records1} then {records2}"
    );
    assert!(
        points2 > points1,
        "chart data did not grow: {points1} then {points2} points"
    );
    assert!(
        second.contains("class=\"recent\"") && second.contains(".ndjson.zst"),
        "no landed file listed"
    );

    let png = out.join("ui.png");
    let (p3, u3, png2) = (dir.path().join("chromium-3"), url.clone(), png.clone());
    tokio::task::spawn_blocking(move || {
        run_chromium(
            &bin,
            &p3,
            &u3,
            &[&format!("--screenshot={}", png2.display())],
        )
    })
    .await
    .unwrap();
    let bytes = std::fs::read(&png).expect("a screenshot");
    assert!(bytes.starts_with(b"\x89PNG"), "not a PNG");
    if let Some(to) = std::env::var_os("SNOWSTREAM_UI_SCREENSHOT") {
        std::fs::copy(&png, to).unwrap();
    }
    eprintln!("screenshot: {}", png.display());

    stop.store(true, Ordering::Relaxed);
    let acked = poster.await.unwrap();
    let last = status(&http, &base).await;
    assert_eq!(
        last["streams"][0]["records_total"], acked,
        "the page's API counts what was acknowledged"
    );
    app.stop().await.unwrap();
}
