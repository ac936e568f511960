//! Readers for FlowFiles landed whole (pass-through and dead letters): each content object
//! with its `.attributes.json` sidecar, checked against each other on the way.

use std::path::Path;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::receiver::Setup;

/// The pass-through stream of the HTTP tests: `files`, under prefix `pt`.
pub const PASS_THROUGH: &str = "files";
/// Where its FlowFiles land, under the landing folder.
pub const PASS_THROUGH_AREA: &str = "pt/files/_passthrough/http";

/// Adds the pass-through stream [`PASS_THROUGH`] to a receiver's setup.
pub fn add_pass_through(s: &mut Setup) {
    let mut files = landing::StreamConfig::new(PASS_THROUGH);
    files.prefix = "pt".into();
    s.streams.push(files);
    let options = server::StreamOptions {
        pass_through: true,
        ..server::StreamOptions::default()
    };
    s.server.streams.insert(PASS_THROUGH.into(), options);
}

/// One FlowFile landed whole.
#[derive(Debug, Clone)]
pub struct Whole {
    /// Content key relative to the landing folder, '/'-separated.
    pub key: String,
    pub content: Vec<u8>,
    /// The sidecar's `attributes` object.
    pub attributes: serde_json::Map<String, Value>,
    /// The sidecar's `meta` object.
    pub meta: Value,
}

impl Whole {
    pub fn attr(&self, k: &str) -> Option<&str> {
        self.attributes.get(k).and_then(Value::as_str)
    }
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Every FlowFile landed whole under `root/dir` (any depth), sorted by key. Panics when a
/// content object has no sidecar or a sidecar no content, or when a sidecar's `meta`
/// disagrees with its content (key, bytes, sha256).
pub fn read_wholes(root: &Path, dir: &str) -> Vec<Whole> {
    let mut files = Vec::new();
    let mut stack = vec![root.join(dir)];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let key = p
                    .strip_prefix(root)
                    .expect("under root")
                    .to_string_lossy()
                    .replace('\\', "/");
                assert!(
                    !key.rsplit('/').next().unwrap_or("").starts_with('.'),
                    "a temp file was left behind: {key}"
                );
                files.push(key);
            }
        }
    }
    files.sort();
    let mut out = Vec::new();
    for key in files.iter().filter(|k| !k.ends_with(".attributes.json")) {
        let sidecar_key = format!("{key}.attributes.json");
        assert!(files.contains(&sidecar_key), "{key} has no sidecar");
        let content = std::fs::read(root.join(key)).expect("content");
        let sidecar: Value =
            serde_json::from_slice(&std::fs::read(root.join(&sidecar_key)).expect("sidecar"))
                .unwrap_or_else(|e| panic!("{sidecar_key} is not JSON: {e}"));
        let meta = sidecar["meta"].clone();
        assert_eq!(meta["key"], key.as_str(), "{sidecar_key}: meta.key");
        assert_eq!(meta["bytes"], content.len(), "{sidecar_key}: meta.bytes");
        assert_eq!(
            meta["sha256"],
            sha256_hex(&content),
            "{sidecar_key}: meta.sha256"
        );
        let attributes = sidecar["attributes"]
            .as_object()
            .unwrap_or_else(|| panic!("{sidecar_key}: attributes is an object"))
            .clone();
        out.push(Whole {
            key: key.clone(),
            content,
            attributes,
            meta,
        });
    }
    for sidecar in files.iter().filter(|k| k.ends_with(".attributes.json")) {
        let content = sidecar.trim_end_matches(".attributes.json");
        assert!(
            files.iter().any(|k| k == content),
            "{sidecar} has no content"
        );
    }
    out
}
