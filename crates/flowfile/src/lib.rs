//! FlowFile package codec.
//!
//! Apache NiFi moves FlowFiles between instances as "FlowFile packages": attributes
//! followed by content, many concatenated in one stream. This crate decodes (incrementally,
//! chunk by chunk) and encodes the v3 (`NiFiFF3`) and v2 formats. It does no I/O.
