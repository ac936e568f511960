//! `--max-inflight-body-size` on the S3 front door: a PutObject whose body does not fit in
//! the body budget gets 503 SlowDown with `Retry-After` (AWS's answer to "reduce your request
//! rate", S3 API reference, Error responses) and nothing of it is kept; objects that fit are
//! taken as usual.

use crate::support::s3::*;
use aws_sdk_s3::error::ProvideErrorMetadata;

#[tokio::test]
async fn an_object_over_the_body_budget_is_slow_down_and_keeps_nothing() {
    let t = start(|s| s.server.body_budget = server::BodyBudget::new(1 << 20)).await;
    let c = t.client();
    let line = format!("{{\"id\":1,\"pad\":\"{}\"}}\n", "p".repeat(1000));
    let big = line.repeat(2048); // ~2 MiB: twice the budget
    let e = put(&c, "raw", "big.ndjson", big.into_bytes())
        .send()
        .await
        .expect_err("over the body budget");
    assert_eq!((status(&e), e.code()), (Some(503), Some("SlowDown")));
    assert_eq!(retry_after(&e).as_deref(), Some("1"));
    assert!(
        e.message()
            .is_some_and(|m| m.contains("--max-inflight-body-size")),
        "{e:?}"
    );

    let small = line.repeat(300); // ~300 KiB fits
    put(&c, "raw", "small.ndjson", small.into_bytes())
        .send()
        .await
        .expect("an object that fits is taken");
    let lines = t.landed().await;
    assert_eq!(records_of(&lines, "small.ndjson").len(), 300);
    assert!(
        records_of(&lines, "big.ndjson").is_empty(),
        "nothing of the refused object landed"
    );
    assert_eq!(
        t.server.body_budget.in_use(),
        0,
        "every reservation given back"
    );
}
