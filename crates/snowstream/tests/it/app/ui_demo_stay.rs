//! `snowstream demo --stay`: after the check the demo keeps serving; it printed the live
//! page's URL, `/ui` answers with the page, `/api/status` carries the local warehouse (as many
//! raw rows as records acknowledged, recent SCD2 versions), and Ctrl-C (SIGINT) stops it
//! cleanly.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_stay_serves_the_page_with_the_warehouse_until_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_snowstream"))
        .args([
            "demo",
            "--customers",
            "100",
            "--changes",
            "600",
            "--rate",
            "0",
        ])
        .args(["--batch-max-age", "200ms", "--stay", "--dir"])
        .arg(dir.path().join("demo"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut page = None;
    let mut lines = Vec::new();
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(120))
            .unwrap_or_else(|_| panic!("demo did not reach --stay:\n{}", lines.join("\n")));
        if let Some(url) = line.strip_prefix("live page: ") {
            page = Some(url.trim().to_owned());
        }
        let serving = line.contains("until Ctrl-C");
        lines.push(line);
        if serving {
            break;
        }
    }
    let all = lines.join("\n");
    assert!(all.contains("match the generator's oracle"), "{all}");
    let page = page.unwrap_or_else(|| panic!("no live page URL printed:\n{all}"));
    assert!(page.ends_with("/ui"), "{page}");

    let http = reqwest::Client::new();
    let html = http.get(&page).send().await.unwrap();
    assert_eq!(html.status(), 200);
    assert!(html.text().await.unwrap().contains("/api/status"));
    let api = page.trim_end_matches("/ui").to_owned() + "/api/status";
    let status: serde_json::Value = http.get(&api).send().await.unwrap().json().await.unwrap();
    let wh = &status["warehouse"];
    let acked = &status["streams"][0]["records_total"];
    assert!(acked.as_u64().unwrap() >= 700, "{status}");
    assert_eq!(
        &wh["counts"]["raw"], acked,
        "every acknowledged record is in the raw table: {wh}"
    );
    assert!(wh["counts"]["latest"].as_u64().unwrap() > 0, "{wh}");
    let cols = wh["recent_versions"]["columns"].as_array().unwrap();
    assert_eq!(cols[0], "id", "{wh}");
    assert!(!wh["recent_versions"]["rows"].as_array().unwrap().is_empty());

    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let start = std::time::Instant::now();
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "demo did not stop on SIGINT"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(exit.success(), "demo exited with {exit}");
}
