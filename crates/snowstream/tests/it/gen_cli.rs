//! The `snowstream-gen` binary: the `files` fixtures the SQL checks rely on, and `http`
//! against a real server, each with `--expect`.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use generator::{Customer, Format, decode_batch, oracle};
use records::Format::{Csv, Ndjson};

fn gen_cmd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_snowstream-gen"))
        .args(args)
        .output()
        .expect("run snowstream-gen")
}

fn files_in(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().into_string().unwrap(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

fn expect_from(records: &[Customer]) -> String {
    let mut out = Vec::new();
    oracle::write_ndjson(&oracle::compute(records), &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn files_fixtures_are_reproducible_and_match_their_expect_file() {
    let tmp = tempfile::tempdir().unwrap();
    let mut runs = Vec::new();
    for run in ["a", "b"] {
        let dir = tmp.path().join(run);
        let expect = tmp.path().join(format!("{run}.expect.ndjson"));
        let out = gen_cmd(&[
            "files",
            "--dir",
            dir.to_str().unwrap(),
            "--format",
            "ndjson",
            "--seed",
            "17",
            "--profile",
            "tricky",
            "--count",
            "200",
            "--batch",
            "25",
            "--progress",
            "none",
            "--expect",
            expect.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        runs.push((files_in(&dir), std::fs::read_to_string(&expect).unwrap()));
    }
    assert_eq!(
        runs[0], runs[1],
        "same seed and options must give the same files"
    );
    let (files, expect) = &runs[0];
    assert!(files.iter().all(|(n, _)| n.ends_with(".ndjson")));
    let records: Vec<Customer> = files
        .iter()
        .flat_map(|(_, bytes)| decode_batch(bytes, Format::Records(Ndjson)).unwrap())
        .collect();
    assert!(records.len() > 220, "initial 20 + 200 changes + duplicates");
    assert_eq!(files.len(), records.len().div_ceil(25));
    assert_eq!(*expect, expect_from(&records));
    assert!(expect.contains("\"is_deleted\":true"));
}

type Bodies = Arc<Mutex<Vec<Bytes>>>;

async fn serve(reject: bool) -> (String, Bodies) {
    let bodies: Bodies = Arc::default();
    let app = Router::new()
        .route(
            "/contentListener",
            post(move |State(b): State<Bodies>, body: Bytes| async move {
                b.lock().unwrap().push(body);
                if reject {
                    (StatusCode::UNAUTHORIZED, "missing bearer token")
                } else {
                    (StatusCode::OK, "")
                }
            }),
        )
        .with_state(bodies.clone());
    let sock = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(sock, app).await.unwrap() });
    (format!("http://{addr}/contentListener"), bodies)
}

#[tokio::test]
async fn http_posts_what_the_expect_file_describes() {
    let (url, bodies) = serve(false).await;
    let tmp = tempfile::tempdir().unwrap();
    let expect = tmp.path().join("expect.ndjson");
    let exp = expect.clone();
    let out = tokio::task::spawn_blocking(move || {
        gen_cmd(&[
            "http",
            "--url",
            &url,
            "--format",
            "csv",
            "--seed",
            "5",
            "--initial",
            "30",
            "--count",
            "120",
            "--batch",
            "40",
            "--progress",
            "plain",
            "--expect",
            exp.to_str().unwrap(),
        ])
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("acknowledged"), "no summary: {stderr}");
    let received: Vec<Customer> = bodies
        .lock()
        .unwrap()
        .iter()
        .flat_map(|b| decode_batch(b, Format::Records(Csv)).unwrap())
        .collect();
    assert!(received.len() >= 150);
    assert_eq!(
        std::fs::read_to_string(&expect).unwrap(),
        expect_from(&received)
    );
}

#[tokio::test]
async fn http_rejection_fails_the_run_with_the_reason() {
    let (url, bodies) = serve(true).await;
    let out = tokio::task::spawn_blocking(move || {
        gen_cmd(&[
            "http",
            "--url",
            &url,
            "--seed",
            "1",
            "--count",
            "10",
            "--progress",
            "none",
        ])
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("401") && stderr.contains("missing bearer token"),
        "{stderr}"
    );
    assert_eq!(bodies.lock().unwrap().len(), 1);
}

#[test]
fn bad_arguments_are_explained_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let dir = dir.to_str().unwrap();
    let out = gen_cmd(&["files", "--dir", dir, "--format", "parquet"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("json, ndjson, csv or flowfile-v3"));
    let out = gen_cmd(&["files", "--dir", dir, "--duplicates", "2"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("duplicate rate"));
    assert!(!tmp.path().join("out").exists());
}

#[test]
fn print_writes_the_stream_to_stdout() {
    let out = gen_cmd(&[
        "print",
        "--profile",
        "clean",
        "--seed",
        "1",
        "--initial",
        "2",
        "--count",
        "3",
        "--format",
        "csv",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records = decode_batch(&out.stdout, Format::Records(Csv)).unwrap();
    assert_eq!(records.len(), 5);
    assert_eq!(
        records.iter().map(|r| r.id).take(2).collect::<Vec<_>>(),
        vec![1, 2]
    );
}
