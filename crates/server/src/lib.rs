//! Server: the HTTP front doors of snowstream.
//!
//! A receiver wire-compatible with Apache NiFi's ListenHTTP (raw bodies with attributes as
//! headers, FlowFile packages v3/v2, gzip, HEAD, healthcheck, two-phase holds), which parses
//! records and hands them to `landing`, answering only once they are durable.
