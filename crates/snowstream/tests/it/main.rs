//! The integration tests of the whole app, in one test binary (issue 26). Each test starts the
//! shipped app (`snowstream::App`) in this process, or the `snowstream` binary as a child, and
//! talks to it over real sockets, as clients do. One binary rather than one per file: the app
//! and the harnesses in `support` are compiled and linked once.
//!
//! - `http`: the NiFi ListenHTTP-compatible receiver (raw bodies, FlowFile packages,
//!   multipart, encodings, limits, access, holds, pass-through, dead letters);
//! - `nifi`: conformance with NiFi's PostHTTP and InvokeHTTP, request for request;
//! - `s3`: the S3 API front door (aws-sdk-s3, boto3 and the AWS CLI, requests on the wire);
//! - `hostile`: the receiver against hostile clients;
//! - `app`: the app and the `snowstream` command as a whole (pipeline, demo, README, live
//!   page, TLS, listener limits, crash and outage recovery).
//!
//! The tests here run in parallel threads of one process. None of them may change what is
//! process-wide (failpoints of the `fail` crate, environment variables, signal dispositions,
//! rlimits) or assert on what is (peak RSS, values in the process's one Prometheus recorder,
//! which every app started here writes to): such tests live in the `serial` binary
//! (tests/serial/main.rs), which runs them one at a time.

mod app {
    mod body_budget;
    mod connection_limit;
    mod crash_in_parts;
    mod crash_recovery;
    mod demo;
    mod envelope;
    mod health_check;
    mod listener_timeouts;
    mod log_writer_fails;
    mod pipeline;
    mod readme;
    mod s3_outage;
    mod shared_landing;
    mod tls_alpn;
    mod tls_and_auth;
    mod ui_demo_stay;
    mod ui_page;
}

mod hostile {
    mod headers;
    mod holds;
    mod legit;
    mod metrics;
}

mod http {
    mod access;
    mod dead_letter;
    mod encoding;
    mod flowfile;
    mod holds;
    mod in_parts;
    mod limits;
    mod multipart;
    mod passthrough;
    mod raw;
    mod unread_body;
}

mod gen_cli;

mod nifi {
    mod conformance;
    mod conformance_mtls;
    mod java_clients;
    mod posthttp_holds;
}

mod s3 {
    mod body_budget;
    mod clients;
    mod gzip;
    mod hostile_amplification;
    mod hostile_keys;
    mod hostile_timeouts;
    mod hostile_tls;
    mod hostile_uploads;
    mod large_objects;
    mod multipart;
    mod multipart_chunks;
    mod passthrough;
    mod put;
    mod refused;
    mod wire;
}

#[path = "../support/mod.rs"]
mod support;
