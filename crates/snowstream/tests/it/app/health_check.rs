//! The health check where NiFi's ListenHTTP has it: `GET /{base}/healthcheck` answering OK
//! (ListenHTTP.java mounts HealthCheckServlet, `@Path("/healthcheck")`, at
//! `"/" + basePath + path.value()`), and optionally on a port of its own that serves nothing
//! else (its *Listening Port for health check requests* connector).

use crate::support::inprocess::settings;
use snowstream::App;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthcheck_under_the_base_path_and_on_its_own_port() {
    let dir = tempfile::tempdir().unwrap();
    let flags = [
        "--base-path",
        "ingest",
        "--health-check-listen",
        "127.0.0.1:0",
        "--auth-token",
        "secret",
    ];
    let app = App::start(settings(dir.path(), &flags)).await.unwrap();
    let main = format!("http://{}", app.addr());
    let health = format!("http://{}", app.health_addr().expect("health port on"));
    let client = reqwest::Client::builder().no_proxy().build().unwrap();

    for base in [&main, &health] {
        for path in ["/ingest/healthcheck", "/healthcheck"] {
            let r = client.get(format!("{base}{path}")).send().await.unwrap();
            assert_eq!(r.status(), 200, "GET {base}{path}");
            assert_eq!(r.text().await.unwrap(), "OK\n");
        }
    }
    // The health port serves nothing else: no ingest, no metrics.
    let r = client
        .post(format!("{health}/ingest"))
        .bearer_auth("secret")
        .body("{\"id\":1}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = client
        .get(format!("{health}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // The main port still ingests.
    let r = client
        .post(format!("{main}/ingest"))
        .bearer_auth("secret")
        .header("content-type", "application/json")
        .body("{\"id\":1}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    app.stop().await.unwrap();
}
