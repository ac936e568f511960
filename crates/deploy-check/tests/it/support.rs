//! Helpers shared by the integration tests: the repository's real deployment files.

use std::path::PathBuf;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn read(rel: &str) -> String {
    let path = repo_root().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

pub const MAIN_FLOW: &str = "nifi-templates/snowstream-ingest.flow.json";
pub const S3_FLOW: &str = "nifi-templates/snowstream-s3-upload.flow.json";
pub const TEMPLATE_1X: &str = "nifi-templates/snowstream-ingest.nifi1-template.xml";

/// Fails with every problem listed, so a broken file says what to fix.
pub fn assert_clean(what: &str, problems: &[deploy_check::Problem]) {
    let list: Vec<String> = problems.iter().map(|p| format!("  - {p}")).collect();
    assert!(
        problems.is_empty(),
        "{what} has problems:\n{}",
        list.join("\n")
    );
}

/// Asserts some problem mentions every fragment.
pub fn assert_reports(problems: &[deploy_check::Problem], fragments: &[&str]) {
    assert!(
        problems
            .iter()
            .any(|p| fragments.iter().all(|f| p.0.contains(f))),
        "expected a problem mentioning {fragments:?}, got {problems:#?}"
    );
}
