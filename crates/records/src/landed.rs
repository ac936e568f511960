//! The landed-file format (docs/architecture.md, contract 1).
