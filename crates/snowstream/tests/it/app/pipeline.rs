//! Generator → snowstream (real process on 127.0.0.1) → landed files → local warehouse.

use std::path::{Path, PathBuf};
use std::time::Duration;

use generator::{Config, Customer, Format, HttpTarget, Progress};
use records::Format::Csv;
use testkit::{ServerProcess, free_port, landed_files, read_landed};

fn start(data: &Path, extra: &[&str]) -> ServerProcess {
    let bin = Path::new(env!("CARGO_BIN_EXE_snowstream"));
    let mut args = vec![
        "--data-dir",
        data.to_str().unwrap(),
        "--batch-max-age",
        "100ms",
    ];
    args.extend_from_slice(extra);
    ServerProcess::start(bin, free_port(), &args, &[])
}

async fn stop(server: ServerProcess) {
    let code = tokio::task::spawn_blocking(move || server.terminate(Duration::from_secs(30)))
        .await
        .unwrap();
    assert_eq!(code, Some(0));
}

/// What a record looks like after a CSV round trip: every value a string.
fn as_csv_strings(v: serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => m
            .into_iter()
            .map(|(k, v)| {
                let s = match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, serde_json::Value::String(s))
            })
            .collect(),
        other => other,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_records_land_as_sent_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let streams = "json,ndjson,csv,flowfile-v3";
    let server = start(&data, &["--streams", streams]);
    let records: Vec<Customer> = generator::generate(&Config {
        seed: 11,
        initial_customers: 40,
        changes: 160,
        ..Config::default()
    });
    for format in Format::ALL {
        let mut target =
            HttpTarget::new(format!("{}/contentListener/{}", server.base, format.name()));
        target.format = format;
        target.batch_size = 37;
        let summary = generator::send_http(&target, &records, &Progress::hidden())
            .await
            .unwrap();
        assert_eq!(summary.acknowledged, records.len() as u64, "{format}");
    }
    stop(server).await;

    for format in Format::ALL {
        let files: Vec<PathBuf> = landed_files(&data.join("landing").join(format.name()));
        let mut lines: Vec<serde_json::Value> = files.iter().flat_map(|f| read_landed(f)).collect();
        lines.sort_by_key(|l| l["meta"]["seq"].as_u64().unwrap());
        assert_eq!(lines.len(), records.len(), "{format}: every record once");
        for (line, sent) in lines.iter().zip(&records) {
            let sent = serde_json::to_value(sent).unwrap();
            let expected = if format == Format::Records(Csv) {
                as_csv_strings(sent)
            } else {
                sent
            };
            assert_eq!(line["record"], expected, "{format}");
            assert_eq!(line["meta"]["stream"], format.name());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tricky_stream_reaches_the_oracle_and_replays_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = start(&data, &[]);
    let records = generator::generate(&Config {
        seed: 5,
        ..Config::tricky()
    });
    let mut target = HttpTarget::new(format!("{}/contentListener", server.base));
    target.batch_size = 25;
    target.concurrency = 4;
    generator::send_http(&target, &records, &Progress::hidden())
        .await
        .unwrap();
    stop(server).await;

    let oracle = generator::oracle::compute(&records);
    let mut expected = Vec::new();
    generator::oracle::write_ndjson(&oracle, &mut expected).unwrap();
    let expected = String::from_utf8(expected).unwrap();

    let landing = data.join("landing");
    let mut wh = warehouse::Warehouse::open(
        &dir.path().join("wh.db"),
        &warehouse::TableSpec::customers(),
    )
    .unwrap();
    let (load, _) = wh.sync(&landing).unwrap();
    assert!(load.files_loaded > 0);
    assert_eq!(
        wh.diff_against_oracle(&expected).unwrap(),
        Vec::<String>::new()
    );
    let before = wh.counts().unwrap();

    // Replay: every landed file again under a new name (as a re-run upstream would produce).
    for f in landed_files(&landing) {
        let copy = f.with_file_name(format!(
            "replay-{}",
            f.file_name().unwrap().to_string_lossy()
        ));
        std::fs::copy(&f, copy).unwrap();
    }
    let (load, _) = wh.sync(&landing).unwrap();
    assert!(load.files_loaded > 0, "the copies were loaded");
    let after = wh.counts().unwrap();
    assert_eq!(after.raw, 2 * before.raw);
    assert_eq!(
        (after.latest, after.history),
        (before.latest, before.history)
    );
    assert_eq!(
        wh.diff_against_oracle(&expected).unwrap(),
        Vec::<String>::new()
    );
}
