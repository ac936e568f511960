//! `S3Sink::new` (the AWS default credential chain) against an in-process S3 server, with
//! credentials and region from the environment. It sets process env vars, so it runs alone
//! (see `main.rs`).

use std::path::Path;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use landing::sink::{S3Sink, S3SinkConfig, Sink};
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tokio::net::TcpListener;

const ACCESS_KEY: &str = "env-access-key";
const SECRET_KEY: &str = "env-secret-key";

#[test]
fn new_takes_credentials_from_the_environment() {
    // Alone in this binary (see main.rs): the variables below are process-wide.
    let scenario = fail::FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    let none = dir.path().join("no-such-aws-file");
    // SAFETY: no other test of this binary runs meanwhile (the scenario lock above), and this
    // one sets the variables before it starts any thread of its own (the runtime is built
    // below).
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", ACCESS_KEY);
        std::env::set_var("AWS_SECRET_ACCESS_KEY", SECRET_KEY);
        std::env::remove_var("AWS_SESSION_TOKEN");
        std::env::remove_var("AWS_PROFILE");
        std::env::set_var("AWS_REGION", "eu-west-1");
        std::env::set_var("AWS_CONFIG_FILE", &none);
        std::env::set_var("AWS_SHARED_CREDENTIALS_FILE", &none);
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = dir.path().join("store");
        std::fs::create_dir_all(store.join("bucket")).unwrap();
        let addr = serve(&store).await;
        let sink = S3Sink::new(S3SinkConfig {
            endpoint_url: Some(format!("http://{addr}")),
            force_path_style: true,
            max_attempts: 1,
            ..S3SinkConfig::new("bucket")
        })
        .await
        .unwrap();
        let put = sink.put_bytes("a/b.json", bytes::Bytes::from_static(b"{\"ok\":true}"));
        assert_eq!(put.await.unwrap(), landing::sink::Put::Created);
        assert_eq!(
            std::fs::read(store.join("bucket/a/b.json")).unwrap(),
            b"{\"ok\":true}"
        );
    });
    scenario.teardown();
}

async fn serve(root: &Path) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut builder = S3ServiceBuilder::new(s3s_fs::FileSystem::new(root).unwrap());
    builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
    let service = builder.build();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let service = service.clone();
            tokio::spawn(async move {
                let _ = ConnBuilder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(socket), service)
                    .await;
            });
        }
    });
    addr
}
