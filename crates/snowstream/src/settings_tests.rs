//! How flags, environment and the TOML file resolve into settings.

use clap::Parser;

use super::*;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: ServeArgs,
}

fn args(list: &[&str]) -> ServeArgs {
    Cli::try_parse_from(std::iter::once("serve").chain(list.iter().copied()))
        .unwrap()
        .args
}

#[test]
fn defaults_are_the_embedded_local_setup() {
    let s = args(&[]).resolve().unwrap();
    assert_eq!(s.listen.to_string(), "0.0.0.0:8080");
    assert_eq!(s.landing.streams.len(), 1);
    let c = &s.landing.streams[0];
    assert_eq!(c.name, "customers");
    assert_eq!((c.max_bytes, c.max_records), (128 << 20, 1_000_000));
    assert_eq!(c.max_age, Duration::from_secs(60));
    assert_eq!(c.ack, landing::AckMode::Durable);
    assert_eq!(s.landing.spool_dir, PathBuf::from("data/spool"));
    assert!(
        matches!(&s.sink, SinkSettings::Local { dir } if dir == &PathBuf::from("data/landing"))
    );
    assert_eq!(s.server.success_code, 200);
    assert_eq!(s.server.base_path, "contentListener");
}

#[test]
fn toml_streams_get_their_own_prefix_format_and_limits() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("snowstream.toml");
    std::fs::write(
        &file,
        r#"
prefix = "raw"
batch_max_age = "20s"
ack = "landed"

[[streams]]
name = "customers"
format = "csv"

[[streams]]
name = "orders"
prefix = "raw-orders"
batch_max_bytes = "64MiB"
batch_max_age = "5s"
compression = "gzip:9"
"#,
    )
    .unwrap();
    // A flag wins over the file's top level; a stream's own table wins over both.
    let s = args(&["--config", file.to_str().unwrap(), "--batch-max-age", "30s"])
        .resolve()
        .unwrap();
    let by_name = |n: &str| s.landing.streams.iter().find(|c| c.name == n).unwrap();
    let customers = by_name("customers");
    assert_eq!(customers.prefix, "raw");
    assert_eq!(customers.max_age, Duration::from_secs(30));
    assert_eq!(customers.ack, landing::AckMode::Landed);
    assert_eq!(
        s.server.default_formats["customers"],
        server::records::Format::Csv
    );
    let orders = by_name("orders");
    assert_eq!(orders.prefix, "raw-orders");
    assert_eq!(orders.max_bytes, 64 << 20);
    assert_eq!(orders.max_age, Duration::from_secs(5));
    assert_eq!(orders.compression, landing::Compression::Gzip { level: 9 });
    assert_eq!(s.landing.streams.len(), 2);
}

#[test]
fn empty_values_mean_unset() {
    let s = args(&[
        "--sink",
        "s3",
        "--s3-bucket",
        "b",
        "--s3-endpoint-url",
        "",
        "--auth-token",
        "",
    ])
    .resolve()
    .unwrap();
    assert!(
        matches!(&s.sink, SinkSettings::S3 { endpoint_url: None, bucket, .. } if bucket == "b")
    );
    assert_eq!(s.server.auth_token, None);
}

#[test]
fn mistakes_are_explained() {
    let err = |list: &[&str]| {
        args(list)
            .resolve()
            .err()
            .map(|e| format!("{e:#}"))
            .unwrap()
    };
    assert!(err(&["--sink", "s3"]).contains("--s3-bucket"));
    assert!(err(&["--sink", "gcs"]).contains("unknown sink"));
    assert!(err(&["--success-code", "404"]).contains("2xx"));
    assert!(err(&["--ack", "sometimes"]).contains("durable, landed or received"));
    assert!(err(&["--default-format", "xml"]).contains("json, ndjson or csv"));
    assert!(err(&["--headers-as-attributes", "("]).contains("regex"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "listen_port = 8080\n").unwrap();
    assert!(err(&["--config", file.to_str().unwrap()]).contains("listen_port"));
}

#[test]
fn header_regex_matches_whole_names_ignoring_case() {
    let s = args(&["--headers-as-attributes", "x-.*|source"])
        .resolve()
        .unwrap();
    let re = s.server.headers_as_attributes.unwrap();
    assert!(re.is_match("X-Trace-Id"));
    assert!(re.is_match("source"));
    assert!(
        !re.is_match("datasource"),
        "anchored like NiFi's Pattern.matches"
    );
}
