//! `snowstream_dead_letter_flowfiles_total{stream}` counts dead letters: the counting test of
//! `dead_letter.rs` (now `http::dead_letter` in the `it` binary, whose doc comment tells how a
//! dead letter is set aside). It reads the process's one Prometheus recorder, which every app
//! in a test process writes to, so it runs here, alone.

use std::time::Duration;

use crate::support::dead_letter::{batch_with_one_bad, dead_letter_options};
use crate::support::receiver::client;
use flowfile::Version;
use landing::{LandingConfig, StreamConfig};
use server::ServerConfig;

#[tokio::test]
async fn dead_letters_are_counted_per_stream() {
    let _alone = crate::alone();
    // The shipped app with its own Prometheus recorder (the harness replaces it).
    let dir = tempfile::tempdir().unwrap();
    let mut settings = snowstream::Settings::local(dir.path(), "t1").unwrap();
    let mut server = ServerConfig::default();
    server.streams.insert("dlq".into(), dead_letter_options());
    settings.server = server;
    settings.landing = LandingConfig {
        streams: vec![StreamConfig::new("dlq")],
        ..settings.landing
    };
    let app = snowstream::App::builder(settings).start().await.unwrap();
    let base = format!("http://{}", app.addr());
    let c = client();
    let r = c
        .post(format!("{base}/contentListener/dlq"))
        .header("content-type", Version::V3.mime())
        .body(batch_with_one_bad())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let page = tokio::time::timeout(Duration::from_secs(20), async {
        c.get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    })
    .await
    .expect("metrics page within 20 s");
    let line = format!(
        "{}{{stream=\"dlq\"}} 1",
        landing::metric_names::DEAD_LETTER_FLOWFILES_TOTAL
    );
    assert!(page.lines().any(|l| l == line), "{line} in {page}");
}
