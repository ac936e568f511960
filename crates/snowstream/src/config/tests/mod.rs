//! How flags, environment and the TOML file resolve into settings.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use super::*;

mod fronts;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: ServeArgs,
}

fn try_args(list: &[&str]) -> Result<ServeArgs, clap::Error> {
    Cli::try_parse_from(std::iter::once("serve").chain(list.iter().copied())).map(|c| c.args)
}

fn args(list: &[&str]) -> ServeArgs {
    try_args(list).unwrap()
}

#[test]
fn defaults_are_the_embedded_local_setup() {
    let s = args(&[]).resolve().unwrap();
    assert_eq!(s.listener.listen.to_string(), "0.0.0.0:8080");
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
    assert_eq!(s.server.streams["customers"].format, records::Format::Csv);
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
    // A value that does not parse is refused by the flag parser, a combination that makes
    // no sense by the resolution; either way the message says what is wrong.
    let err = |list: &[&str]| match try_args(list) {
        Err(e) => e.to_string(),
        Ok(a) => a.resolve().err().map(|e| format!("{e:#}")).unwrap(),
    };
    assert!(err(&["--sink", "s3"]).contains("--s3-bucket"));
    assert!(err(&["--sink", "gcs"]).contains("unknown sink"));
    assert!(err(&["--success-code", "404"]).contains("2xx"));
    assert!(err(&["--ack", "sometimes"]).contains("durable, landed or received"));
    assert!(err(&["--default-format", "xml"]).contains("json, ndjson or csv"));
    assert!(err(&["--headers-as-attributes", "("]).contains("regex"));
    assert!(err(&["--http-protocols", "h3"]).contains("\"h2 http/1.1\""));
    assert!(err(&["--http-protocols", "h2"]).contains("over HTTPS"));
    assert!(err(&["--client-authentication", "optional"]).contains("AUTO, WANT, REQUIRED or NONE"));
    for mode in ["REQUIRED", "want"] {
        assert!(err(&["--client-authentication", mode]).contains("needs --tls-client-ca"));
    }
    let tls = [
        "--tls-cert",
        "c.pem",
        "--tls-key",
        "k.pem",
        "--tls-client-ca",
        "ca.pem",
    ];
    let none = [&tls[..], &["--client-authentication", "NONE"]].concat();
    assert!(err(&none).contains("drop --tls-client-ca"));
    for flag in ["--authorized-dn-pattern", "--authorized-issuer-dn-pattern"] {
        assert!(
            err(&[flag, "CN=nifi"]).contains(&format!("{flag} applies to client certificates"))
        );
    }
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
    // The S3 API is on; which streams pass through is a stream option both doors read.
    assert!(s.s3_front.is_some(), "S3 API on");
    let pass_through: Vec<&str> = s
        .server
        .streams
        .iter()
        .filter(|(_, o)| o.pass_through)
        .map(|(name, _)| name.as_str())
        .collect();
    assert!(pass_through.contains(&"files"));
    assert!(!pass_through.contains(&"orders"));
    assert!(!pass_through.contains(&"customers"));
    assert_eq!(pass_through.len(), 1);
}

#[test]
fn each_default_as_help_shows_it_resolves_to_the_default() {
    // What `--help` and the README show for a default, given back as a flag, must be the
    // default itself: a library's typed default is shown in the flag's own syntax.
    let s3 = ["--s3-listen", "127.0.0.1:0", "--s3-credentials", "A:B"];
    let groups = [
        args::ListenerArgs::defaults(),
        args::SpoolArgs::defaults(),
        args::SinkArgs::defaults(),
        args::StreamArgs::defaults(),
        args::SnowpipeArgs::defaults(),
        args::S3ApiArgs::defaults(),
    ];
    let command = <Cli as clap::CommandFactory>::command();
    let mut given: Vec<String> = s3.iter().map(|a| (*a).to_owned()).collect();
    for (field, text) in groups.iter().flatten() {
        let arg = command.get_arguments().find(|a| a.get_id() == *field);
        let long = arg
            .and_then(|a| a.get_long())
            .expect("each setting has a flag");
        given.push(format!("--{long}"));
        given.push(text.clone());
    }
    assert!(given.len() > 60, "{given:?}");
    let given: Vec<&str> = given.iter().map(String::as_str).collect();
    let explicit = format!("{:?}", args(&given).resolve().unwrap());
    let defaulted = format!("{:?}", args(&s3).resolve().unwrap());
    assert_eq!(explicit, defaulted);
}

#[test]
fn every_declared_default_parses_and_matches_the_libraries() {
    // Settings declare the libraries' defaults (`server::defaults`, `landing::defaults`) as
    // theirs; resolving must carry each into the field the library reads, so a library
    // embedded on its own (its Default impls) behaves as `serve` does by default.
    let s = args(&[]).resolve().unwrap();
    let server = server::ServerConfig::default();
    assert_eq!(s.server.base_path, server.base_path);
    assert_eq!(s.server.success_code, server.success_code);
    assert_eq!(s.server.max_request_bytes, server.max_request_bytes);
    assert_eq!(s.server.hold_timeout, server.hold_timeout);
    assert_eq!(s.server.default_stream, server.default_stream);
    assert_eq!(s.server.retry_after_secs, server.retry_after_secs);
    let stream = landing::StreamConfig::new("customers");
    let c = &s.landing.streams[0];
    assert_eq!(
        (c.max_bytes, c.max_records, c.max_age),
        (stream.max_bytes, stream.max_records, stream.max_age)
    );
    assert_eq!((c.ack, c.compression), (stream.ack, stream.compression));
    let s3 = server::s3::S3Config::new("x");
    let front = args(&["--s3-listen", "127.0.0.1:0", "--s3-credentials", "A:B"])
        .resolve()
        .unwrap()
        .s3_front
        .unwrap();
    assert_eq!(front.config.region, s3.region);
    assert_eq!(front.config.upload_max_age, s3.upload_max_age);
    assert_eq!(s.shutdown_timeout, Duration::from_secs(30));
    assert_eq!(s.landing.spool_max_bytes, 1 << 30);
}

#[test]
fn help_shows_each_declared_default() {
    use clap::CommandFactory;
    let help = defaults_in_help(Cli::command())
        .render_long_help()
        .to_string();
    for needle in [
        "--listen <LISTEN>",
        "[default: 0.0.0.0:8080]",
        "[default: 128MiB]",
        "[env: SNOWSTREAM_BATCH_MAX_AGE=]",
        "[default: 1d]",
    ] {
        assert!(help.contains(needle), "{needle:?} missing from:\n{help}");
    }
}

#[test]
fn every_setting_has_its_readme_row() {
    use clap::CommandFactory;
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md");
    let table = readme
        .split("### Configuration")
        .nth(1)
        .expect("a Configuration section");
    for arg in Cli::command().get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        if long == "help" || long == "config" {
            continue;
        }
        let row = table
            .lines()
            .find(|l| {
                l.split('|')
                    .nth(1)
                    .is_some_and(|flags| flags.contains(&format!("`--{long}`")))
            })
            .unwrap_or_else(|| panic!("README's settings table has no row for --{long}"));
        let env = arg.get_env().expect("every setting has an env var");
        assert!(
            row.contains(&*env.to_string_lossy()),
            "README row of --{long} does not name {env:?}: {row}"
        );
    }
}

#[test]
fn the_bearer_token_can_come_from_a_file_only() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "s3cr3t-token\nignored second line\n").unwrap();
    let path = file.to_str().unwrap();
    let s = args(&["--auth-token-file", path]).resolve().unwrap();
    assert_eq!(s.server.auth_token.as_deref(), Some("s3cr3t-token"));
    let e = args(&["--auth-token-file", path, "--auth-token", "x"])
        .resolve()
        .unwrap_err();
    assert!(e.to_string().contains("not both"), "{e}");
    std::fs::write(&file, "\n").unwrap();
    let e = args(&["--auth-token-file", path]).resolve().unwrap_err();
    assert!(e.to_string().contains("is empty"), "{e}");
    let missing = dir.path().join("nope");
    let e = args(&["--auth-token-file", missing.to_str().unwrap()])
        .resolve()
        .unwrap_err();
    assert!(format!("{e:#}").contains("nope"), "{e:#}");
}

#[test]
fn on_parse_error_is_a_stream_setting_defaulting_to_reject() {
    let (_dir, file) = toml(
        r#"
on_parse_error = "dead-letter"

[[streams]]
name = "customers"

[[streams]]
name = "orders"
on_parse_error = "reject"
"#,
    );
    let s = args(&["--config", &file]).resolve().unwrap();
    let policy = |name: &str| s.server.streams[name].on_parse_error;
    assert_eq!(policy("customers"), server::OnParseError::DeadLetter);
    assert_eq!(policy("orders"), server::OnParseError::Reject);
    let s = args(&[]).resolve().unwrap();
    assert!(
        s.server
            .streams
            .values()
            .all(|o| o.on_parse_error == server::OnParseError::Reject),
        "reject is the default"
    );
    let bad = try_args(&["--on-parse-error", "skip"]).expect_err("an unknown policy");
    assert!(
        bad.to_string().contains("expected reject or dead-letter"),
        "{bad}"
    );
}

#[test]
fn hostile_input_limits_default_to_the_libraries_and_resolve() {
    let s = args(&[]).resolve().unwrap();
    let server = server::ServerConfig::default();
    assert_eq!(
        s.server.max_flowfiles_per_request,
        server.max_flowfiles_per_request
    );
    assert_eq!(s.server.max_attribute_bytes, server.max_attribute_bytes);
    assert_eq!(s.server.header_deny_list, server.header_deny_list);
    assert_eq!(s.server.metrics_token, None);
    assert_eq!(s.server.max_holds, server.max_holds);
    assert_eq!(s.server.max_hold_bytes, server.max_hold_bytes);
    let front = args(&["--s3-listen", "127.0.0.1:0", "--s3-credentials", "A:B"])
        .resolve()
        .unwrap()
        .s3_front
        .unwrap();
    let s3 = server::s3::S3Config::new("x");
    assert_eq!(front.config.max_open_uploads, s3.max_open_uploads);
    assert_eq!(front.config.max_parts_bytes, 1 << 30, "the spool limit");

    let s = args(&["--header-deny-list", "X-Secret, x-other"])
        .resolve()
        .unwrap();
    assert_eq!(s.server.header_deny_list, ["x-secret", "x-other"]);
}

#[test]
fn retry_after_is_a_setting_in_whole_seconds() {
    let secs = |flags: &[&str]| args(flags).resolve().unwrap().server.retry_after_secs;
    assert_eq!(secs(&["--retry-after", "30s"]), 30);
    assert_eq!(secs(&["--retry-after", "1m"]), 60);
    assert_eq!(
        secs(&["--retry-after", "200ms"]),
        1,
        "never 0: at least a second"
    );
}

#[test]
fn metrics_token_comes_from_its_file_or_the_ingest_token() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("metrics-token");
    std::fs::write(&file, "scrape-me\n").unwrap();
    let path = file.to_str().unwrap();
    let s = args(&["--metrics-token-file", path]).resolve().unwrap();
    assert_eq!(s.server.metrics_token.as_deref(), Some("scrape-me"));
    let s = args(&["--metrics-auth", "true", "--auth-token", "ingest"])
        .resolve()
        .unwrap();
    assert_eq!(s.server.metrics_token.as_deref(), Some("ingest"));
    let err = args(&["--metrics-auth", "true"]).resolve().unwrap_err();
    assert!(format!("{err:#}").contains("--auth-token"), "{err:#}");
}

#[test]
fn envelope_is_a_stream_setting_defaulting_to_meta() {
    use records::landed::Envelope;
    let (_dir, file) = toml(
        r#"
[[streams]]
name = "customers"

[[streams]]
name = "events"
envelope = "record"
"#,
    );
    let s = args(&["--config", &file]).resolve().unwrap();
    let landed = |name: &str| {
        s.landing
            .streams
            .iter()
            .find(|c| c.name == name)
            .unwrap()
            .envelope
    };
    assert_eq!(landed("customers"), Envelope::Meta);
    assert_eq!(landed("events"), Envelope::Record);
    // The front doors count a record stream's landed bytes by the same setting.
    assert_eq!(s.server.streams["events"].envelope, Envelope::Record);
    assert_eq!(s.server.streams["customers"].envelope, Envelope::Meta);
    let s = args(&["--envelope", "record"]).resolve().unwrap();
    assert_eq!(s.landing.streams[0].envelope, Envelope::Record);
    assert_eq!(
        landing::StreamConfig::new("x").envelope,
        args(&[]).resolve().unwrap().landing.streams[0].envelope
    );
    let bad = try_args(&["--envelope", "both"]).expect_err("an unknown envelope");
    assert!(bad.to_string().contains("expected meta or record"), "{bad}");
}

#[test]
fn http_protocols_take_nifis_values_and_display_names() {
    use crate::config::value::HttpProtocols::{H2, H2Http1, Http1};
    // HttpProtocolStrategy.java (apache/nifi): HTTP_1_1 "http/1.1", H2_HTTP_1_1
    // "h2 http/1.1", H2 "h2"; a flow definition stores the value, the UI shows the name.
    for (text, want) in [
        ("http/1.1", Http1),
        ("HTTP_1_1", Http1),
        ("h2 http/1.1", H2Http1),
        ("H2_HTTP_1_1", H2Http1),
        ("  H2   HTTP/1.1 ", H2Http1),
        ("h2", H2),
        ("H2", H2),
    ] {
        assert_eq!(
            text.parse::<crate::config::value::HttpProtocols>(),
            Ok(want),
            "{text:?}"
        );
    }
    let s = args(&[]).resolve().unwrap();
    assert_eq!(s.listener.http_protocols, Http1);
    assert_eq!(Http1.alpn(), [b"http/1.1".to_vec()]);
    assert_eq!(H2Http1.alpn(), [b"h2".to_vec(), b"http/1.1".to_vec()]);
}

#[test]
fn placeholder_secrets_from_the_env_example_are_refused() {
    let token = args(&["--auth-token", "CHANGE-ME-token"])
        .resolve()
        .unwrap_err();
    assert!(
        format!("{token:#}").contains("CHANGE-ME placeholder"),
        "{token:#}"
    );
    assert!(
        !format!("{token:#}").contains("CHANGE-ME-token"),
        "the value is not echoed"
    );
    let s3 = args(&[
        "--s3-listen",
        "127.0.0.1:0",
        "--s3-credentials",
        "nifi:CHANGE-ME-s3-secret",
    ])
    .resolve()
    .unwrap_err();
    assert!(format!("{s3:#}").contains("the secret of nifi"), "{s3:#}");
    args(&["--auth-token", "a-real-token"]).resolve().unwrap();
}
