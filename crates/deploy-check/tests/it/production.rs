//! Issue 28's rules on compose fragments as they were before the fix (each must be reported)
//! and on the repository's files (which must pass).

use deploy_check::*;

use crate::support::*;

/// NiFi's UI published on every interface: browsing it by the host's public IP or a DNS name
/// its first-start certificate does not name gets "400 Invalid SNI".
#[test]
fn nifi_ui_on_every_interface_is_reported() {
    let yaml = r#"
services:
  nifi:
    image: apache/nifi:2.11.0
    ports:
      - "${NIFI_UI_PORT:-8443}:8443"
      - "${NIFI_LISTEN_PORT:-8081}:8081"
"#;
    let problems = check_compose_lifecycle(yaml).unwrap();
    assert_reports(&problems, &["`nifi`", "8443", "every interface"]);
    // ListenHTTP's port is for producers, and stays public.
    assert_eq!(problems.len(), 1, "{problems:#?}");
    let fixed = yaml.replace(
        "\"${NIFI_UI_PORT:-8443}:8443\"",
        "\"${NIFI_UI_BIND:-127.0.0.1}:${NIFI_UI_PORT:-8443}:8443\"",
    );
    assert_clean("fixed fragment", &check_compose_lifecycle(&fixed).unwrap());
}

#[test]
fn repository_compose_binds_the_nifi_ui_to_the_loopback() {
    let doc: serde_json::Value = serde_norway::from_str(&read("docker-compose.yml")).unwrap();
    let ports = doc["services"]["nifi"]["ports"].as_array().unwrap();
    assert!(
        ports
            .iter()
            .filter_map(|p| p.as_str())
            .any(|p| p.starts_with("${NIFI_UI_BIND:-127.0.0.1}:") && p.ends_with(":8443")),
        "{ports:?}"
    );
}

/// The compose file before issue 28 mounted the flows into NiFi and left the import to the UI,
/// whose upload reads from the browser's computer: nothing loaded the flow.
#[test]
fn a_stack_that_never_imports_the_flow_is_reported() {
    let yaml = r#"
services:
  nifi:
    image: apache/nifi:2.11.0
    volumes:
      - ./nifi-templates:/opt/nifi/flows:ro
"#;
    let problems = check_flow_import(yaml, &repo_root()).unwrap();
    assert_reports(&problems, &["no service runs", "import-flow.sh"]);
}

#[test]
fn a_flow_import_that_cannot_run_the_flow_is_reported() {
    let yaml = r#"
services:
  nifi-flow-import:
    image: apache/nifi:2.11.0
    profiles: ["demo"]
    entrypoint: ["sh", "/opt/nifi/deploy/import-flow.sh"]
    environment:
      FLOW_FILE: /opt/nifi/flows/snowstream-ingest.flow.json
      FLOW_PARAM_snowstream_autorization: Bearer ${SNOWSTREAM_AUTH_TOKEN}
    volumes:
      - ./nifi-templates:/opt/nifi/flows:ro
    restart: unless-stopped
  missing-flow:
    image: apache/nifi:2.11.0
    entrypoint: ["sh", "/opt/nifi/deploy/import-flow.sh"]
    environment:
      FLOW_FILE: /opt/nifi/flows/no-such.flow.json
    volumes:
      - ./nifi-templates:/opt/nifi/flows:ro
    restart: "no"
"#;
    let problems = check_flow_import(yaml, &repo_root()).unwrap();
    assert_reports(&problems, &["`nifi-flow-import`", "profile"]);
    assert_reports(&problems, &["`nifi-flow-import`", "restart: \"no\""]);
    assert_reports(
        &problems,
        &["FLOW_PARAM_snowstream_autorization", "no parameter"],
    );
    assert_reports(
        &problems,
        &["`nifi-flow-import`", "`snowstream_authorization` empty"],
    );
    assert_reports(&problems, &["`missing-flow`", "does not exist"]);
    assert_eq!(problems.len(), 5, "{problems:#?}");
}

#[test]
fn repository_compose_imports_and_starts_the_flow() {
    let problems = check_flow_import(&read("docker-compose.yml"), &repo_root()).unwrap();
    assert_clean("docker-compose.yml", &problems);
}
