//! Each check catches the mistake it exists for: the real files, broken one way at a time.

use deploy_check::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;

use crate::support::*;

fn main_flow() -> Value {
    serde_json::from_str(&read(MAIN_FLOW)).unwrap()
}

fn check(flow: &Value) -> Vec<Problem> {
    let known = KnownNifi::bundled().unwrap();
    check_flow_definition(&flow.to_string(), &known).unwrap().1
}

fn processor_mut<'a>(flow: &'a mut Value, type_suffix: &str) -> &'a mut Value {
    flow["flowContents"]["processors"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|p| p["type"].as_str().unwrap().ends_with(type_suffix))
        .unwrap()
}

#[test]
fn unrouted_relationship_is_reported() {
    let mut flow = main_flow();
    // Drop the InvokeHTTP -> dead letter connection ("No Retry").
    let conns = flow["flowContents"]["connections"].as_array_mut().unwrap();
    conns.retain(|c| c["selectedRelationships"] != json!(["No Retry"]));
    assert_reports(
        &check(&flow),
        &[
            "relationship `No Retry`",
            "neither connected nor auto-terminated",
        ],
    );
}

#[test]
fn dangling_connection_is_reported() {
    let mut flow = main_flow();
    flow["flowContents"]["connections"][0]["destination"]["id"] =
        json!("00000000-0000-0000-0000-000000000000");
    assert_reports(
        &check(&flow),
        &[
            "destination `00000000-0000-0000-0000-000000000000`",
            "not a component",
        ],
    );
}

#[test]
fn misspelt_property_name_is_reported() {
    // (A 1.x name such as `Attributes to Send` is accepted: InvokeHTTP's migrateProperties
    // renames it on import.)
    let mut flow = main_flow();
    let invoke = processor_mut(&mut flow, "InvokeHTTP");
    let pattern = invoke["properties"]["Request Header Attributes Pattern"].take();
    invoke["properties"]
        .as_object_mut()
        .unwrap()
        .remove("Request Header Attributes Pattern");
    invoke["properties"]["Request Header Attributes pattern"] = pattern;
    assert_reports(
        &check(&flow),
        &[
            "property `Request Header Attributes pattern`",
            "not a org.apache.nifi.processors.standard.InvokeHTTP property",
        ],
    );
}

#[test]
fn unknown_relationship_name_is_reported() {
    let mut flow = main_flow();
    processor_mut(&mut flow, "InvokeHTTP")["autoTerminatedRelationships"] =
        json!(["original", "Response"]);
    let problems = check(&flow);
    assert_reports(&problems, &["no relationship `original`"]);
    assert_reports(&problems, &["relationship `Original`", "neither connected"]);
}

#[test]
fn unknown_type_and_wrong_bundle_are_reported() {
    let mut flow = main_flow();
    processor_mut(&mut flow, "PutFile")["type"] =
        json!("org.apache.nifi.processors.standard.PutFiles");
    assert_reports(
        &check(&flow),
        &["PutFiles", "not in the known NiFi 2.x list"],
    );

    let mut flow = main_flow();
    processor_mut(&mut flow, "PutFile")["bundle"]["artifact"] = json!("nifi-aws-nar");
    assert_reports(
        &check(&flow),
        &["bundle must be org.apache.nifi:nifi-standard-nar"],
    );

    let mut flow = main_flow();
    processor_mut(&mut flow, "PutFile")["bundle"]["version"] = json!("1.28.1");
    assert_reports(&check(&flow), &["not a NiFi 2.x version"]);
}

#[test]
fn undefined_parameter_is_reported() {
    let mut flow = main_flow();
    processor_mut(&mut flow, "InvokeHTTP")["properties"]["HTTP URL"] =
        json!("#{snowstream_uri}/#{snowstream_stream}");
    let problems = check(&flow);
    assert_reports(
        &problems,
        &["parameter `snowstream_uri`", "does not define"],
    );
    assert_reports(
        &problems,
        &["parameter `snowstream_url` is defined but no property uses it"],
    );
}

#[test]
fn secrets_in_the_flow_are_reported() {
    let mut flow = main_flow();
    processor_mut(&mut flow, "InvokeHTTP")["properties"]["Authorization"] =
        json!("Bearer #{snowstream_authorization}");
    assert_reports(
        &check(&flow),
        &["sensitive property `Authorization` must be exactly one"],
    );

    let mut flow = main_flow();
    for p in flow["parameterContexts"]["snowstream ingest"]["parameters"]
        .as_array_mut()
        .unwrap()
    {
        if p["name"] == "snowstream_authorization" {
            p["value"] = json!("Bearer abc");
        }
    }
    assert_reports(
        &check(&flow),
        &["sensitive parameter `snowstream_authorization` carries a value"],
    );

    // A sensitive parameter in a plain property would be refused by NiFi.
    let mut flow = main_flow();
    processor_mut(&mut flow, "InvokeHTTP")["properties"]["HTTP URL"] =
        json!("#{snowstream_authorization}");
    assert_reports(
        &check(&flow),
        &["non-sensitive property `HTTP URL` references sensitive parameter"],
    );
}

#[test]
fn missing_controller_service_is_reported() {
    let mut flow: Value = serde_json::from_str(&read(S3_FLOW)).unwrap();
    flow["flowContents"]["controllerServices"] = json!([]);
    assert_reports(
        &check(&flow),
        &["AWS Credentials Provider service", "not in this group"],
    );
}

fn template_params() -> BTreeMap<String, bool> {
    let known = KnownNifi::bundled().unwrap();
    check_flow_definition(&read(MAIN_FLOW), &known)
        .unwrap()
        .0
        .parameters
}

#[test]
fn template_with_2x_property_name_is_reported() {
    let xml = read(TEMPLATE_1X).replace(
        "<key>Attributes to Send</key>",
        "<key>Request Header Attributes Pattern</key>",
    );
    let known = KnownNifi::bundled().unwrap();
    let problems = check_template(&xml, &known, &template_params()).unwrap();
    assert_reports(
        &problems,
        &[
            "property `Request Header Attributes Pattern`",
            "NiFi rel/nifi-1.28.1",
        ],
    );
}

#[test]
fn template_with_unrouted_relationship_is_reported() {
    let xml = read(TEMPLATE_1X).replace(
        "<selectedRelationships>No Retry</selectedRelationships>",
        "<selectedRelationships>Retry</selectedRelationships>",
    );
    let known = KnownNifi::bundled().unwrap();
    let problems = check_template(&xml, &known, &template_params()).unwrap();
    assert_reports(&problems, &["relationship `No Retry`", "neither connected"]);
}

#[test]
fn template_with_unknown_parameter_is_reported() {
    let xml = read(TEMPLATE_1X).replace("#{max_retries}", "#{retries}");
    let known = KnownNifi::bundled().unwrap();
    let problems = check_template(&xml, &known, &template_params()).unwrap();
    assert_reports(&problems, &["parameter `retries`"]);
}

fn compose_problems(yaml: &str) -> Vec<Problem> {
    check_compose(yaml, &repo_root()).unwrap()
}

#[test]
fn compose_cross_reference_mistakes_are_reported() {
    let yaml = read("docker-compose.yml");
    assert_reports(
        &compose_problems(&yaml.replace(
            "      s3:\n        condition: service_healthy",
            "      minio:\n        condition: service_healthy",
        )),
        &["unknown service `minio`"],
    );
    assert_reports(
        &compose_problems(&yaml.replace("\n  s3-data:\n", "\n")),
        &["volume `s3-data`", "not declared"],
    );
    assert_reports(
        &compose_problems(&yaml.replace("./nifi-templates:", "./nifi-flows:")),
        &["bind mount source `./nifi-flows`"],
    );
    assert_reports(
        &compose_problems(&yaml.replace("apache/nifi:2.11.0", "apache/nifi:latest")),
        &["uses `latest`"],
    );
    assert_reports(
        &compose_problems(&yaml.replace("apache/nifi:2.11.0", "apache/nifi")),
        &["has no tag"],
    );
}

#[test]
fn compose_inline_secret_is_reported() {
    let yaml = read("docker-compose.yml").replace(
        "SNOWSTREAM_AUTH_TOKEN: ${SNOWSTREAM_AUTH_TOKEN:?set SNOWSTREAM_AUTH_TOKEN in .env}",
        "SNOWSTREAM_AUTH_TOKEN: hunter2hunter2",
    );
    assert_reports(
        &compose_problems(&yaml),
        &["`SNOWSTREAM_AUTH_TOKEN` has an inline value"],
    );
}

#[test]
fn compose_health_condition_without_healthcheck_is_reported() {
    let yaml = read("docker-compose.yml");
    let doc: Value = serde_norway::from_str(&yaml).unwrap();
    let mut doc = doc;
    doc["services"]["nifi"]
        .as_object_mut()
        .unwrap()
        .remove("healthcheck");
    let yaml = serde_norway::to_string(&doc).unwrap();
    let problems = compose_problems(&yaml);
    assert_reports(&problems, &["service `nifi` has no healthcheck"]);
    assert_reports(&problems, &["waits for `nifi` to be healthy"]);
}

#[test]
fn undocumented_compose_variable_is_reported() {
    let env = read(".env.example").replace("GENERATOR_RATE=100", "");
    assert_reports(
        &check_env_example(&read("docker-compose.yml"), &env),
        &["${GENERATOR_RATE}"],
    );
}

#[test]
fn dockerfile_mistakes_are_reported() {
    let text = read("Dockerfile");
    assert_reports(
        &check_dockerfile(&text.replace("USER 10001:10001", "USER root")),
        &["USER is root"],
    );
    let no_user: String = text
        .lines()
        .filter(|l| !l.starts_with("USER"))
        .collect::<Vec<_>>()
        .join("\n");
    assert_reports(&check_dockerfile(&no_user), &["runs as root"]);
    assert_reports(
        &check_dockerfile(&text.replace("HEALTHCHECK", "# HEALTHCHECK")),
        &["no HEALTHCHECK"],
    );
    assert_reports(
        &check_dockerfile(&text.replace("debian:bookworm-slim", "debian")),
        &["FROM debian: pin a tag"],
    );
    assert_reports(
        &check_dockerfile(&text.replace("--locked", "")),
        &["--locked"],
    );
}

#[test]
fn value_outside_the_allowed_set_is_reported() {
    let mut flow = main_flow();
    processor_mut(&mut flow, "PutFile")["properties"]["Conflict Resolution Strategy"] =
        json!("Replace File");
    assert_reports(
        &check(&flow),
        &["`Replace File` is not an allowed value of `Conflict Resolution Strategy`"],
    );

    let xml = read(TEMPLATE_1X).replace("<value>warn</value>", "<value>Warn on Reuse</value>");
    let known = KnownNifi::bundled().unwrap();
    let problems = check_template(&xml, &known, &template_params()).unwrap();
    assert_reports(
        &problems,
        &["`Warn on Reuse` is not an allowed value of `reuse-mode`"],
    );
}

#[test]
fn template_sensitive_dynamic_property_not_listed_is_reported() {
    // NiFi 1.x template instantiation makes a dynamic property sensitive only when the
    // processor config lists it in sensitiveDynamicPropertyNames (ProcessorConfigDTO).
    let xml = sensitive_token_template().replace(
        "<sensitiveDynamicPropertyNames>Authorization</sensitiveDynamicPropertyNames>",
        "",
    );
    let known = KnownNifi::bundled().unwrap();
    let problems = check_template(&xml, &known, &template_params()).unwrap();
    assert_reports(
        &problems,
        &[
            "sensitive dynamic property `Authorization`",
            "sensitiveDynamicPropertyNames",
        ],
    );
}

#[test]
fn template_claiming_a_nifi_before_1_17_is_reported() {
    // Sensitive dynamic properties exist from NiFi 1.17.
    let xml = sensitive_token_template().replace("(1.17 or later)", "(1.14 or later)");
    let known = KnownNifi::bundled().unwrap();
    let problems = check_template(&xml, &known, &template_params()).unwrap();
    assert_reports(&problems, &["needs NiFi 1.17 or later"]);
}

/// The 1.x template as shipped until the upload was modelled: `Authorization` a sensitive
/// dynamic property referencing the sensitive parameter `snowstream_authorization`, listed in
/// sensitiveDynamicPropertyNames. Every check passed it, yet NiFi 1.28.1's upload
/// (TemplateUtils.scrubTemplate) removed the reference, so InvokeHTTP sent no token.
fn sensitive_token_template() -> String {
    let xml = read(TEMPLATE_1X);
    let xml = xml.replace(
        "<name>Authorization</name>\n                            <dynamic>true</dynamic>\n                            <sensitive>false</sensitive>",
        "<name>Authorization</name>\n                            <dynamic>true</dynamic>\n                            <sensitive>true</sensitive>",
    );
    let xml = xml.replace(
        "<value>Bearer ${SNOWSTREAM_AUTH_TOKEN}</value>\n                    </entry>\n                </properties>",
        "<value>#{snowstream_authorization}</value>\n                    </entry>\n                </properties>\n                <sensitiveDynamicPropertyNames>Authorization</sensitiveDynamicPropertyNames>",
    );
    assert!(
        xml.contains("<sensitive>true</sensitive>")
            && xml.contains("<sensitiveDynamicPropertyNames>")
    );
    xml
}

#[test]
fn template_whose_token_the_upload_removes_is_reported() {
    let known = KnownNifi::bundled().unwrap();
    let problems = check_template(&sensitive_token_template(), &known, &template_params()).unwrap();
    assert_reports(
        &problems,
        &[
            "`Authorization` is sensitive",
            "uploading the template removes its value",
        ],
    );
}

#[test]
fn template_with_a_literal_token_is_reported() {
    let xml = read(TEMPLATE_1X).replace(
        "<value>Bearer ${SNOWSTREAM_AUTH_TOKEN}</value>",
        "<value>Bearer 0123456789abcdef</value>",
    );
    let known = KnownNifi::bundled().unwrap();
    let problems = check_template(&xml, &known, &template_params()).unwrap();
    assert_reports(&problems, &["`Authorization` holds a literal credential"]);
}

#[test]
fn bare_mime_type_content_type_is_reported_in_flow_and_template() {
    // ListenHTTP never sets mime.type, so a bare ${mime.type} sends application/octet-stream.
    let mut flow = main_flow();
    processor_mut(&mut flow, "InvokeHTTP")["properties"]["Request Content-Type"] =
        json!("${mime.type}");
    assert_reports(&check(&flow), &["`Request Content-Type` is a bare"]);
    let text = read(TEMPLATE_1X);
    let start = text.find("<value>${mime.type:replaceEmpty").unwrap();
    let end = start + text[start..].find("</value>").unwrap();
    let xml = format!("{}<value>${{mime.type}}{}", &text[..start], &text[end..]);
    let known = KnownNifi::bundled().unwrap();
    let problems = check_template(&xml, &known, &template_params()).unwrap();
    assert_reports(&problems, &["`Content-Type` is a bare"]);
}

/// The compose file as it was before issue 28: the generator started on every `up`, inherited
/// the image's health check, and serve had Docker's 10 s to stop.
#[test]
fn demo_data_unhealthy_services_and_short_stops_are_reported() {
    let yaml = r#"
services:
  snowstream:
    image: snowstream:local
    command: ["serve"]
  generator:
    image: snowstream:local
    entrypoint: ["snowstream-gen"]
    command: ["http", "--url", "http://nifi:8081/contentListener"]
  generator-files:
    profiles: ["files"]
    image: snowstream:local
    entrypoint: ["snowstream-gen"]
  prometheus:
    image: prom/prometheus:v3.0.0
    ports:
      - "${PROMETHEUS_PORT:-9090}:9090"
"#;
    let problems = deploy_check::check_compose_lifecycle(yaml).unwrap();
    assert_reports(&problems, &["`generator`", "profile"]);
    assert_reports(&problems, &["`generator`", "unhealthy forever"]);
    assert_reports(&problems, &["`generator-files`", "unhealthy forever"]);
    assert_reports(&problems, &["`snowstream`", "stop_grace_period"]);
    assert_reports(&problems, &["`prometheus`", "every interface"]);
    assert_eq!(problems.len(), 5, "{problems:#?}");
}
