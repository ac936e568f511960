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
    assert_eq!(s.server.default_formats["customers"], records::Format::Csv);
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

fn toml(text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("snowstream.toml");
    std::fs::write(&file, text).unwrap();
    let path = file.to_str().unwrap().to_owned();
    (dir, path)
}

#[test]
fn each_stream_can_notify_its_own_pipe_with_shared_credentials() {
    let (_dir, file) = toml(
        r#"
prefix = "raw"
snowpipe_account = "file-account"
snowpipe_user = "loader"
snowpipe_private_key = "/keys/rsa_key.p8"
snowpipe_url = "http://127.0.0.1:8081"
snowpipe_pipe = "DB.RAW.CUSTOMERS_PIPE"

[[streams]]
name = "orders"
prefix = "raw-orders"
snowpipe_pipe = "DB.RAW.ORDERS_PIPE"

[[streams]]
name = "events"
snowpipe_pipe = "DB.RAW.EVENTS_PIPE"
snowpipe_strip_prefix = "/stage/root/"

[[streams]]
name = "quiet"
"#,
    );
    // The flag wins over the file's top-level key, and is shared by every stream's pipe.
    let s = args(&[
        "--config",
        &file,
        "--snowpipe-account",
        "xy12345.eu-central-1",
    ])
    .resolve()
    .unwrap();
    let pipe = |n: &str| {
        s.landing
            .streams
            .iter()
            .find(|c| c.name == n)
            .unwrap()
            .snowpipe
            .clone()
    };
    let customers = pipe("customers").expect("default stream notifies the top-level pipe");
    assert_eq!(customers.pipe, "DB.RAW.CUSTOMERS_PIPE");
    assert_eq!(customers.strip_prefix, "raw");
    let orders = pipe("orders").expect("orders has its own pipe");
    assert_eq!(orders.pipe, "DB.RAW.ORDERS_PIPE");
    assert_eq!(
        orders.strip_prefix, "raw-orders",
        "default: the stream's prefix"
    );
    let events = pipe("events").expect("events has its own pipe");
    assert_eq!(events.pipe, "DB.RAW.EVENTS_PIPE");
    assert_eq!(events.strip_prefix, "stage/root");
    for p in [&customers, &orders, &events] {
        assert_eq!(p.account, "xy12345.eu-central-1");
        assert_eq!(p.user, "loader");
        assert_eq!(p.private_key, PathBuf::from("/keys/rsa_key.p8"));
        assert_eq!(p.base_url(), "http://127.0.0.1:8081");
    }
    assert!(pipe("quiet").is_none());
}

#[test]
fn a_streams_own_pipe_wins_and_only_named_streams_notify() {
    let (_dir, file) = toml(
        r#"
snowpipe_account = "acct"
snowpipe_user = "loader"
snowpipe_private_key = "k.p8"

[[streams]]
name = "customers"
snowpipe_pipe = "DB.S.OWN"

[[streams]]
name = "orders"
"#,
    );
    let s = args(&["--config", &file, "--snowpipe-pipe", "DB.S.FLAG"])
        .resolve()
        .unwrap();
    let by_name = |n: &str| s.landing.streams.iter().find(|c| c.name == n).unwrap();
    assert_eq!(
        by_name("customers").snowpipe.as_ref().unwrap().pipe,
        "DB.S.OWN"
    );
    assert!(by_name("orders").snowpipe.is_none());

    // Without any pipe, no stream notifies even though credentials are shared.
    let (_dir2, file2) = toml("snowpipe_user = \"loader\"\n[[streams]]\nname = \"orders\"\n");
    let s = args(&["--config", &file2]).resolve().unwrap();
    assert!(s.landing.streams.iter().all(|c| c.snowpipe.is_none()));
}

#[test]
fn per_stream_pipe_mistakes_are_explained() {
    let err = |text: &str| {
        let (_dir, file) = toml(text);
        format!("{:#}", args(&["--config", &file]).resolve().err().unwrap())
    };
    let e = err("[[streams]]\nname = \"orders\"\nsnowpipe_pipe = \"DB.S.P\"\n");
    assert!(e.contains("snowpipe_account"), "{e}");
    let e = err(
        "snowpipe_account = \"a\"\nsnowpipe_user = \"u\"\n[[streams]]\nname = \"orders\"\nsnowpipe_pipe = \"DB.S.P\"\n",
    );
    assert!(e.contains("snowpipe_private_key"), "{e}");
    let e = err("[[streams]]\nname = \"orders\"\nsnowpipe_strip_prefix = \"raw\"\n");
    assert!(
        e.contains("needs snowpipe_pipe") && e.contains("orders"),
        "{e}"
    );
}

#[test]
fn pass_through_streams_reach_the_s3_front_door() {
    let (_dir, file) = toml(
        r#"
[s3_api]
listen = "127.0.0.1:9000"
credentials = ["AK:SECRET"]

[[streams]]
name = "files"
pass_through = true

[[streams]]
name = "orders"
pass_through = false
"#,
    );
    let s = args(&["--config", &file]).resolve().unwrap();
    let front = s.s3_front.expect("S3 API on");
    assert!(front.config.pass_through.contains("files"));
    assert!(!front.config.pass_through.contains("orders"));
    assert!(!front.config.pass_through.contains("customers"));
    assert_eq!(front.config.pass_through.len(), 1);
}
