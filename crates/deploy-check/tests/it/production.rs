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
    stop_grace_period: 30s
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

/// Before issue 28: Grafana, NiFi and MinIO took their passwords from .env with `:?` (or
/// `:-`), which lets `CHANGE-ME-…` through.
#[test]
fn placeholder_secrets_without_a_guard_are_reported() {
    let env = "NIFI_PASSWORD=CHANGE-ME-nifi-password\nGRAFANA_ADMIN_PASSWORD=CHANGE-ME-grafana\n\
               AWS_SECRET_ACCESS_KEY=CHANGE-ME-s3-secret\nGRAFANA_PORT=3000\n";
    let yaml = r#"
services:
  nifi:
    image: apache/nifi:2.11.0
    environment:
      SINGLE_USER_CREDENTIALS_PASSWORD: ${NIFI_PASSWORD:?set NIFI_PASSWORD}
  grafana:
    image: grafana/grafana:11.3.0
    environment:
      GF_SECURITY_ADMIN_PASSWORD: ${GRAFANA_ADMIN_PASSWORD:?set it}
    ports:
      - "${GRAFANA_PORT:-3000}:3000"
"#;
    let problems = check_placeholder_guard(yaml, env).unwrap();
    assert_reports(&problems, &["`nifi`", "`NIFI_PASSWORD`", "CHANGE-ME"]);
    assert_reports(&problems, &["`grafana`", "`GRAFANA_ADMIN_PASSWORD`"]);
    assert_eq!(problems.len(), 2, "{problems:#?}");

    // A guard that does not receive a variable guards nothing for it.
    let half = format!(
        "{yaml}{}",
        r#"
  preflight:
    image: snowstream:local
    entrypoint: ["sh", "-c"]
    command: ["env | grep -q CHANGE-ME && exit 1 || exit 0"]
    environment:
      NIFI_PASSWORD: ${NIFI_PASSWORD:-}
    restart: "no"
"#
    );
    let guarded = half
        .replace(
            "  nifi:\n    image: apache/nifi:2.11.0\n",
            "  nifi:\n    image: apache/nifi:2.11.0\n    depends_on:\n      preflight:\n        condition: service_completed_successfully\n",
        )
        .replace(
            "  grafana:\n    image: grafana/grafana:11.3.0\n",
            "  grafana:\n    image: grafana/grafana:11.3.0\n    depends_on:\n      preflight:\n        condition: service_completed_successfully\n",
        );
    let problems = check_placeholder_guard(&guarded, env).unwrap();
    assert_reports(
        &problems,
        &["`grafana`", "pass `GRAFANA_ADMIN_PASSWORD` to `preflight`"],
    );
    assert_eq!(problems.len(), 1, "{problems:#?}");
}

#[test]
fn repository_compose_guards_every_placeholder() {
    let problems =
        check_placeholder_guard(&read("docker-compose.yml"), &read(".env.example")).unwrap();
    assert_clean("docker-compose.yml", &problems);
    // The guard sees every placeholder .env.example ships, so adding one without passing it
    // to the guard (and to the service) fails here or above.
    let doc: serde_json::Value = serde_norway::from_str(&read("docker-compose.yml")).unwrap();
    let guard = doc["services"]["preflight"]["environment"]
        .as_object()
        .unwrap();
    for line in read(".env.example").lines() {
        if let Some((k, v)) = line.split_once('=')
            && !line.starts_with('#')
            && v.contains("CHANGE-ME")
        {
            assert!(guard.contains_key(k), "preflight does not check {k}");
        }
    }
}

/// The IAM actions each S3 SDK call of the sink needs (Amazon S3's "actions for S3 API
/// operations": the multipart calls are authorized as PutObject, HeadObject as GetObject).
fn iam_action(call: &str) -> &'static str {
    match call {
        "put_object" | "create_multipart_upload" | "upload_part" | "complete_multipart_upload" => {
            "s3:PutObject"
        }
        "get_object" | "head_object" => "s3:GetObject",
        "abort_multipart_upload" => "s3:AbortMultipartUpload",
        "list_parts" => "s3:ListMultipartUploadParts",
        "list_multipart_uploads" => "s3:ListBucketMultipartUploads",
        "list_objects_v2" | "list_objects" => "s3:ListBucket",
        "delete_object" | "delete_objects" => "s3:DeleteObject",
        other => panic!("map the S3 call `{other}` to its IAM action"),
    }
}

/// The first JSON block after `marker` in a Markdown file.
fn json_after(md: &str, marker: &str) -> serde_json::Value {
    let from = md.find(marker).expect("marker present");
    let rest = &md[from..];
    let start = rest.find("```json\n").expect("a json block") + "```json\n".len();
    let end = rest[start..].find("```").unwrap() + start;
    serde_json::from_str(&rest[start..end]).unwrap()
}

/// Before issue 28 the policy granted `s3:ListMultipartUploadParts` and
/// `s3:ListBucketMultipartUploads`, which the sink never calls. Every object action granted
/// on the prefix must be one a call of the sink needs, and each call's action granted.
#[test]
fn ec2_iam_policy_grants_what_the_s3_sink_calls() {
    // The S3 sink's module: every file of crates/landing/src/sink/s3/.
    let dir = crate::support::repo_root().join("crates/landing/src/sink/s3");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no S3 sink source under {}",
        dir.display()
    );
    let sink: String = files
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    let calls = regex::Regex::new(r"\.client\s*(?:\.clone\(\))?\s*\.([a-z0-9_]+)\(\)").unwrap();
    let needed: std::collections::BTreeSet<&str> = calls
        .captures_iter(&sink)
        .map(|c| iam_action(c.get(1).unwrap().as_str()))
        .collect();
    assert!(needed.contains("s3:PutObject"), "{needed:?}");
    let policy = json_after(
        &read("docs/ec2.md"),
        "Create the policy `snowstream-landing-writer`",
    );
    let mut granted = std::collections::BTreeSet::new();
    for st in policy["Statement"].as_array().unwrap() {
        let actions: Vec<&str> = match &st["Action"] {
            serde_json::Value::String(a) => vec![a.as_str()],
            serde_json::Value::Array(list) => list.iter().filter_map(|a| a.as_str()).collect(),
            other => panic!("Action {other}"),
        };
        granted.extend(actions);
    }
    for action in &needed {
        assert!(granted.contains(action), "{action} is needed, not granted");
    }
    // s3:ListBucket is the one extra, for 404 instead of 403 on a missing key (docs say why).
    let extra: Vec<_> = granted
        .iter()
        .filter(|a| !needed.contains(*a) && **a != "s3:ListBucket")
        .collect();
    assert!(extra.is_empty(), "granted but never called: {extra:?}");
}

#[test]
fn ec2_doc_covers_both_distributions_and_architectures() {
    let doc = read("docs/ec2.md");
    for needle in [
        "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
        "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64",
        "/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id",
        "/aws/service/canonical/ubuntu/server/24.04/stable/current/arm64/hvm/ebs-gp3/ami-id",
        "dnf install -y docker",
        "apt-get install -y docker.io docker-compose-v2 docker-buildx",
        "usermod -aG docker ec2-user",
        "usermod -aG docker ubuntu",
        "t4g.xlarge",
        "HttpPutResponseHopLimit=2",
        "ssh -L 8443:localhost:8443",
        "needs a real Snowflake account",
    ] {
        assert!(doc.contains(needle), "docs/ec2.md lacks {needle:?}");
    }
    // The tunnel is the first thing the page tells.
    let first_section = doc.find("\n## ").unwrap();
    assert!(doc[first_section..].starts_with("\n## Reach the NiFi UI"));
}

/// NiFi 2.11's content archive default is 90 % of its disk (nifi-resources/pom.xml line 71 at
/// rel/nifi-2.11.0); docs/ec2.md said 50 %.
#[test]
fn ec2_doc_states_nifis_content_archive_default() {
    let doc = read("docs/ec2.md");
    assert!(doc.contains("archive.max.usage.percentage=90%"));
    assert!(!doc.contains("content archive up to 50 %"));
}

#[test]
fn minio_console_on_every_interface_is_reported() {
    let yaml = r#"
services:
  s3:
    image: minio/minio:RELEASE.2025-04-22T22-12-26Z
    ports:
      - "${MINIO_CONSOLE_PORT:-9001}:9001"
"#;
    let problems = check_compose_lifecycle(yaml).unwrap();
    assert_reports(&problems, &["`s3`", "9001", "every interface"]);
}

/// NiFi's image stops it with `nifi.sh stop`, which waits up to 20 s; the compose before issue
/// 28 left Docker's 10 s. The one-shot on NiFi's image (its own entrypoint) is not NiFi.
#[test]
fn nifi_without_a_long_enough_stop_grace_period_is_reported() {
    let yaml = r#"
services:
  nifi:
    image: apache/nifi:2.11.0
  nifi-flow-import:
    image: apache/nifi:2.11.0
    entrypoint: ["sh", "/opt/nifi/deploy/import-flow.sh"]
"#;
    let problems = check_compose_lifecycle(yaml).unwrap();
    assert_reports(&problems, &["`nifi`", "stop_grace_period"]);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    let fixed = yaml.replace(
        "    image: apache/nifi:2.11.0\n  nifi-flow-import",
        "    image: apache/nifi:2.11.0\n    stop_grace_period: 30s\n  nifi-flow-import",
    );
    assert_clean("fixed fragment", &check_compose_lifecycle(&fixed).unwrap());
}
