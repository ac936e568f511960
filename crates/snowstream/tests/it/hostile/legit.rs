//! The amplification limits leave legitimate large requests alone: a NiFi 1.x PostHTTP batch
//! at its default Max Batch Size (100 MB of content; PostHTTP.java, onTrigger, which adds
//! FlowFiles until `bytesToSend > maxBatchBytes`, with no count limit) of 1 KiB FlowFiles,
//! each with the attributes NiFi sends, is accepted whole under the default limits.

use crate::support::receiver::{TestServer, package, post_as};
use flowfile::Version;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100_mb_posthttp_batch_of_small_flowfiles_is_accepted() {
    let s = TestServer::start_with(|setup| setup.spool_max_bytes = 4 << 30).await;
    let count = 100 * 1024; // 100 MiB of 1 KiB FlowFiles
    let mut body = Vec::with_capacity(110 << 20);
    for i in 0..count {
        let mut record = format!("{{\"id\":{i},\"pad\":\"");
        record.push_str(&"p".repeat(1024 - record.len() - 2));
        record.push_str("\"}");
        assert_eq!(record.len(), 1024);
        let filename = format!("{i:08}-c0ffee00-1111-4222-8333-444455556666");
        let uuid = format!("c0ffee00-1111-4222-8333-{i:012}");
        let attrs: &[(&str, &str)] = &[
            ("path", "./"),
            ("filename", &filename),
            ("uuid", &uuid),
            ("mime.type", "application/json"),
            ("kafka.topic", "customers"),
            ("kafka.partition", "3"),
            ("kafka.offset", "123456789"),
        ];
        body.extend_from_slice(&package(Version::V3, &[(attrs, record.as_bytes())]));
    }
    assert!(body.len() > 100 << 20);
    let r = post_as(&s, "application/flowfile-v3", &[], body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.seqs().map(|(a, b)| b - a + 1),
        Some(count as u64),
        "{}",
        r.text
    );
}
