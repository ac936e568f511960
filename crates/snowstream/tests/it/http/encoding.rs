//! Content codings: gzip (and none, or `identity`) are decoded; any other coding is refused
//! with 415 and a reason instead of being parsed as records (RFC 9110 §8.4.1, §15.5.16).

use crate::support::receiver::{TestServer, gzip, records, send};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codings_other_than_gzip_get_415_and_land_nothing() {
    let s = TestServer::start_default().await;
    for coding in ["deflate", "br", "zstd", "gzip, br", "compress"] {
        let r = send(
            s.post("/contentListener")
                .header("content-type", "application/json")
                .header("content-encoding", coding)
                .body("{\"id\":1}"),
        )
        .await;
        assert_eq!(r.status, 415, "{coding}: {}", r.text);
        assert!(
            r.text.contains(coding),
            "the reason names the coding: {}",
            r.text
        );
    }
    for coding in ["identity", "GZIP", "x-gzip"] {
        let body = if coding == "identity" {
            b"{\"id\":2}".to_vec()
        } else {
            gzip(b"{\"id\":2}")
        };
        let r = send(
            s.post("/contentListener")
                .header("content-type", "application/json")
                .header("content-encoding", coding)
                .body(body),
        )
        .await;
        assert_eq!(r.status, 200, "{coding}: {}", r.text);
    }
    assert_eq!(
        records(&s.landed().await),
        vec![json!({"id":2}), json!({"id":2}), json!({"id":2})]
    );
}
