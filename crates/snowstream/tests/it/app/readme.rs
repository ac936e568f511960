//! The README's curl examples work verbatim: every command between the `readme-test`
//! markers runs in bash against a real server (only the port differs), and what they sent
//! is what lands.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use testkit::{ServerProcess, free_port, landed_lines};

/// Commands of the marked block, with `\` continuations joined and comments dropped.
fn readme_commands() -> Vec<String> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let start = readme
        .find("<!-- readme-test:start -->")
        .expect("start marker");
    let end = readme.find("<!-- readme-test:end -->").expect("end marker");
    let block = &readme[start..end];
    let mut cmds = Vec::new();
    let mut cur = String::new();
    for line in block.lines() {
        let t = line.trim();
        if t.starts_with("```") || t.starts_with("<!--") || t.starts_with('#') || t.is_empty() {
            continue;
        }
        match t.strip_suffix('\\') {
            Some(part) => {
                cur.push_str(part);
                cur.push(' ');
            }
            None => {
                cur.push_str(t);
                cmds.push(std::mem::take(&mut cur));
            }
        }
    }
    cmds
}

#[test]
fn readme_curl_examples_work_verbatim() {
    let bin = Path::new(env!("CARGO_BIN_EXE_snowstream"));
    let bin_dir = bin.parent().unwrap();
    assert!(
        bin_dir.join("snowstream-gen").exists(),
        "the README uses snowstream-gen: build it first (`cargo test --workspace` does)"
    );
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let server = ServerProcess::start(
        bin,
        port,
        &[
            "--data-dir",
            data.to_str().unwrap(),
            "--batch-max-age",
            "100ms",
        ],
        &[],
    );
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let cmds = readme_commands();
    assert!(cmds.len() >= 8, "found only {} commands", cmds.len());
    for cmd in &cmds {
        let cmd = cmd.replace("localhost:8080", &format!("127.0.0.1:{port}"));
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!("set -euo pipefail; {cmd}"))
            .current_dir(dir.path())
            .env("PATH", &path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "README command failed: {cmd}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(server.terminate(Duration::from_secs(30)), Some(0));
    let lines = landed_lines(&data.join("landing"));
    let mut names: Vec<&str> = lines
        .iter()
        .filter_map(|l| l["record"]["name"].as_str())
        .collect();
    names.sort();
    for expected in [
        "Ada Lovelace",
        "Alan Turing",
        "Barbara Liskov",
        "Edsger Dijkstra",
        "Frances Allen",
        "Grace Hopper",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} did not land: {names:?}"
        );
    }
    let dijkstra = lines
        .iter()
        .find(|l| l["record"]["name"] == "Edsger Dijkstra")
        .unwrap();
    assert_eq!(
        dijkstra["record"]["address"],
        "Plantage Muidergracht 1\nAmsterdam"
    );
    assert_eq!(
        lines.len(),
        6 + 3,
        "six hand-written records and three generated ones"
    );
}
