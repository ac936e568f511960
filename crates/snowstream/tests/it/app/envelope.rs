//! `--envelope record` end to end: generator → snowstream (real process on 127.0.0.1) →
//! spool → local sink → local warehouse (stand-in pipe + tasks) under a `record` table spec.
//! Each landed line is the record alone, the manifest says `record`, SCD1/SCD2 equal the
//! generator's oracle, a `meta` spec refuses the files, and a request of tiny records with
//! big attributes fits `--max-request-size` on a record stream but still gets 413 on a meta
//! stream.

use std::path::Path;
use std::time::Duration;

use generator::{Config, HttpTarget, Progress};
use records::landed::{self, Envelope, Manifest};
use testkit::{ServerProcess, free_port, landed_files, read_landed};

const CONFIG: &str = r#"
max_request_size = "1MiB"
headers_as_attributes = "x-big"
batch_max_age = "100ms"

[[streams]]
name = "customers"
envelope = "record"

[[streams]]
name = "events"
envelope = "record"

[[streams]]
name = "metas"
"#;

fn manifest_of(data_file: &Path) -> Manifest {
    let path = landed::manifest_key(&data_file.to_string_lossy());
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

/// POSTs `records` tiny NDJSON records carrying a `bytes`-long `x-big` attribute.
async fn post_tiny_records_with_big_attributes(url: &str, records: usize, bytes: usize) -> u16 {
    let body: String = (0..records).map(|i| format!("{{\"i\":{i}}}\n")).collect();
    reqwest::Client::new()
        .post(url)
        .header("content-type", "application/x-ndjson")
        .header("x-big", "b".repeat(bytes))
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_envelope_stream_reaches_the_oracle() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("snowstream.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_snowstream"));
    let args = [
        "--data-dir",
        data.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ];
    let server = ServerProcess::start(bin, free_port(), &args, &[]);

    let records = generator::generate(&Config {
        seed: 9,
        ..Config::tricky()
    });
    let mut target = HttpTarget::new(format!("{}/contentListener", server.base));
    target.batch_size = 25;
    target.concurrency = 4;
    let summary = generator::send_http(&target, &records, &Progress::hidden())
        .await
        .unwrap();
    assert_eq!(summary.acknowledged, records.len() as u64);

    // 20,000 records of ~9 bytes with a 6 KB attribute: ~130 MB once the attribute is
    // repeated on every meta line, ~300 KB as record lines.
    let (n, big) = (20_000, 6_000);
    let url = |s: &str| format!("{}/contentListener/{s}", server.base);
    assert_eq!(
        post_tiny_records_with_big_attributes(&url("metas"), n, big).await,
        413
    );
    assert_eq!(
        post_tiny_records_with_big_attributes(&url("events"), n, big).await,
        200
    );

    let code = tokio::task::spawn_blocking(move || server.terminate(Duration::from_secs(30)))
        .await
        .unwrap();
    assert_eq!(code, Some(0));

    let landing = data.join("landing");
    // The landed lines are the records, verbatim, and nothing else; the manifests say so.
    let mut landed_records = Vec::new();
    for f in landed_files(&landing.join("customers")) {
        let m = manifest_of(&f);
        assert_eq!(m.envelope, Envelope::Record, "{}", f.display());
        let lines = read_landed(&f);
        assert_eq!(lines.len() as u64, m.records);
        landed_records.extend(lines.into_iter().map(|l| l.to_string()));
    }
    let mut sent: Vec<String> = records
        .iter()
        .map(|r| serde_json::to_value(r).unwrap().to_string())
        .collect();
    landed_records.sort();
    sent.sort();
    assert_eq!(landed_records, sent, "every record once, verbatim");
    let events: Vec<serde_json::Value> = landed_files(&landing.join("events"))
        .iter()
        .flat_map(|f| read_landed(f))
        .collect();
    assert_eq!(events.len(), n);
    assert!(
        events.iter().all(|e| e.as_object().unwrap().len() == 1),
        "no attributes landed"
    );
    assert!(
        landed_files(&landing.join("metas")).is_empty(),
        "the 413 kept nothing"
    );

    // The local stand-in under a record spec reaches the oracle.
    let oracle = generator::oracle::compute(&records);
    let mut expected = Vec::new();
    generator::oracle::write_ndjson(&oracle, &mut expected).unwrap();
    let expected = String::from_utf8(expected).unwrap();
    let spec = warehouse::TableSpec {
        envelope: Envelope::Record,
        ..warehouse::TableSpec::customers()
    };
    let mut wh = warehouse::Warehouse::open(&dir.path().join("wh.db"), &spec).unwrap();
    let (load, _) = wh.sync(&landing).unwrap();
    assert!(load.files_loaded > 0 && load.failed.is_empty(), "{load:?}");
    assert_eq!(load.rows_loaded, records.len() as u64);
    assert_eq!(
        wh.diff_against_oracle(&expected).unwrap(),
        Vec::<String>::new()
    );

    // A meta spec (the stream and the spec disagree) loads none of them.
    let mut wrong = warehouse::Warehouse::open(
        &dir.path().join("wrong.db"),
        &warehouse::TableSpec::customers(),
    )
    .unwrap();
    let (load, _) = wrong.sync(&landing).unwrap();
    assert_eq!(load.files_loaded, 0, "{load:?}");
    assert!(!load.failed.is_empty());
    assert_eq!(wrong.counts().unwrap().raw, 0);
}
