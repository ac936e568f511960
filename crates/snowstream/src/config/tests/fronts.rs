//! How the settings of the S3 API front door and of the Snowpipe notifier resolve.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{args, toml};

// The S3 API front door (these were the tests of `s3_front::resolve`).

#[test]
fn s3_api_is_off_unless_an_address_is_given() {
    let s = args(&[]).resolve().unwrap();
    assert!(s.s3_front.is_none());
}

#[test]
fn s3_api_flags_win_over_the_file_and_buckets_default_to_streams() {
    let (_dir, file) = toml(
        r#"
data_dir = "/var/ss"
streams = ["orders"]

[s3_api]
credentials = ["FILEAK:FILESECRET"]
upload_max_age = "2h"
region = "eu-west-1"
"#,
    );
    let s = args(&[
        "--config",
        &file,
        "--s3-listen",
        "127.0.0.1:9000",
        "--s3-credentials",
        "AK:SECRET:customers",
    ])
    .resolve()
    .unwrap()
    .s3_front
    .expect("on");
    assert_eq!(s.listen.port(), 9000);
    assert_eq!(s.config.credentials.len(), 1);
    assert_eq!(s.config.credentials[0].access_key, "AK");
    assert_eq!(s.config.credentials[0].buckets, ["customers"]);
    let buckets: Vec<_> = s
        .config
        .routes
        .iter()
        .map(|r| (&*r.bucket, &*r.stream))
        .collect();
    assert_eq!(buckets, [("customers", "customers"), ("orders", "orders")]);
    assert_eq!(s.config.upload_max_age, Duration::from_secs(7200));
    assert_eq!(s.config.region, "eu-west-1");
    assert_eq!(s.config.uploads_dir, Path::new("/var/ss/s3-uploads"));
}

#[test]
fn s3_api_needs_credentials_and_valid_routes() {
    let e = args(&["--s3-listen", "127.0.0.1:9000"])
        .resolve()
        .unwrap_err();
    assert!(e.to_string().contains("--s3-credentials"), "{e}");
    assert!(
        args(&[
            "--s3-listen",
            "127.0.0.1:9000",
            "--s3-credentials",
            "AK:S",
            "--s3-buckets",
            "raw"
        ])
        .resolve()
        .is_err()
    );
}

// The Snowpipe notifier's flags (this was the test of `SnowpipeArgs::apply`).

#[test]
fn snowpipe_flags_set_the_default_streams_notifier() {
    let base = [
        "--streams",
        "orders",
        "--prefix",
        "raw",
        "--snowpipe-account",
        "xy12345.eu-central-1",
        "--snowpipe-user",
        "loader",
        "--snowpipe-private-key",
        "/keys/rsa_key.p8",
    ];
    let with = |extra: &[&str]| {
        let list: Vec<&str> = base.iter().chain(extra).copied().collect();
        args(&list).resolve()
    };
    let s = with(&["--snowpipe-pipe", "DB.RAW.P"]).unwrap();
    let sp = s.landing.streams[0].snowpipe.as_ref().unwrap();
    assert_eq!(s.landing.streams[0].name, "customers");
    assert_eq!(sp.pipe, "DB.RAW.P");
    assert_eq!(sp.strip_prefix, "raw/customers");
    assert_eq!(
        sp.base_url(),
        "https://xy12345.eu-central-1.snowflakecomputing.com"
    );
    assert!(s.landing.streams[1].snowpipe.is_none());

    let missing_user: Vec<&str> = base
        .iter()
        .copied()
        .filter(|a| *a != "--snowpipe-user" && *a != "loader")
        .chain(["--snowpipe-pipe", "DB.RAW.P"])
        .collect();
    let err = args(&missing_user).resolve().unwrap_err();
    assert!(err.to_string().contains("--snowpipe-user"), "{err}");
    assert!(with(&[]).is_err(), "credentials without a pipe");
    args(&[]).resolve().unwrap();
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
    // insertFiles paths are relative to the pipe's location, `FROM @stage/{stream}/`.
    assert_eq!(customers.strip_prefix, "raw/customers");
    let orders = pipe("orders").expect("orders has its own pipe");
    assert_eq!(orders.pipe, "DB.RAW.ORDERS_PIPE");
    assert_eq!(
        orders.strip_prefix, "raw-orders/orders",
        "default: the stream's prefix and its name"
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
