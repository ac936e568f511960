//! The committed deployment files pass every check.

use deploy_check::*;

use crate::support::*;

#[test]
fn main_flow_definition_is_consistent() {
    let known = KnownNifi::bundled().unwrap();
    let (summary, problems) = check_flow_definition(&read(MAIN_FLOW), &known).unwrap();
    assert_clean(MAIN_FLOW, &problems);
    for t in ["ListenHTTP", "InvokeHTTP", "RetryFlowFile", "PutFile"] {
        let full = format!("org.apache.nifi.processors.standard.{t}");
        assert!(
            summary.processor_types.contains(&full),
            "main flow lacks {t}"
        );
    }
    for p in [
        "snowstream_url",
        "snowstream_stream",
        "snowstream_authorization",
    ] {
        assert!(
            summary.parameters.contains_key(p),
            "main flow lacks parameter {p}"
        );
    }
    assert_eq!(
        summary.parameters.get("snowstream_authorization"),
        Some(&true),
        "the token parameter must be sensitive"
    );
}

#[test]
fn s3_flow_definition_is_consistent() {
    let known = KnownNifi::bundled().unwrap();
    let (summary, problems) = check_flow_definition(&read(S3_FLOW), &known).unwrap();
    assert_clean(S3_FLOW, &problems);
    for t in [
        "org.apache.nifi.processors.standard.ListFile",
        "org.apache.nifi.processors.standard.FetchFile",
        "org.apache.nifi.processors.aws.s3.PutS3Object",
    ] {
        assert!(
            summary.processor_types.iter().any(|p| p == t),
            "s3 flow lacks {t}"
        );
    }
    assert!(summary.referenced_parameters.contains("snowstream_s3_url"));
    assert_eq!(summary.parameters.get("s3_secret_access_key"), Some(&true));
}

#[test]
fn s3_flow_points_put_s3_object_at_snowstream_path_style() {
    let flow: serde_json::Value = serde_json::from_str(&read(S3_FLOW)).unwrap();
    let put = flow["flowContents"]["processors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["type"] == "org.apache.nifi.processors.aws.s3.PutS3Object")
        .unwrap();
    assert_eq!(
        put["properties"]["Endpoint Override URL"],
        "#{snowstream_s3_url}"
    );
    // The 2.0.0 name, which 2.6.0 and later rename on import (AbstractS3Processor.migrateProperties).
    assert_eq!(put["properties"]["use-path-style-access"], "true");
    // A region every release lists: `use-custom-region` and `Custom Region` exist from 2.7.0 only.
    assert_eq!(put["properties"]["Region"], "#{s3_region}");
}

#[test]
fn nifi1_template_matches_the_main_flow() {
    let known = KnownNifi::bundled().unwrap();
    let (summary, _) = check_flow_definition(&read(MAIN_FLOW), &known).unwrap();
    let problems = check_template(&read(TEMPLATE_1X), &known, &summary.parameters).unwrap();
    assert_clean(TEMPLATE_1X, &problems);
    // Same processors as the 2.x flow.
    let xml = read(TEMPLATE_1X);
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let mut types: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name("processors"))
        .filter_map(|p| {
            p.children()
                .find(|c| c.has_tag_name("type"))
                .and_then(|t| t.text())
                .map(str::to_string)
        })
        .collect();
    let mut want = summary.processor_types.clone();
    types.sort();
    want.sort();
    assert_eq!(types, want);
}

fn child<'a, 'i>(n: roxmltree::Node<'a, 'i>, tag: &str) -> Option<roxmltree::Node<'a, 'i>> {
    n.children().find(|c| c.has_tag_name(tag))
}

/// The 1.x template sets the same properties to the same values as the 2.x flow, once 1.x
/// names are mapped to 2.x names the way NiFi 2 migrates them.
#[test]
fn nifi1_template_sets_what_the_2x_flow_sets() {
    let known = KnownNifi::bundled().unwrap();
    let flow: serde_json::Value = serde_json::from_str(&read(MAIN_FLOW)).unwrap();
    let xml = read(TEMPLATE_1X);
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let mut compared = 0;
    for p in doc.descendants().filter(|n| n.has_tag_name("processors")) {
        let name = child(p, "name").and_then(|n| n.text()).unwrap();
        let type_name = child(p, "type").and_then(|n| n.text()).unwrap();
        let v2 = known.find(NifiLine::V2, "processor", type_name).unwrap();
        let props = child(child(p, "config").unwrap(), "properties").unwrap();
        let mut from_1x = std::collections::BTreeMap::new();
        for e in props.children().filter(|n| n.has_tag_name("entry")) {
            let key = child(e, "key").and_then(|n| n.text()).unwrap();
            let value = child(e, "value").and_then(|n| n.text()).unwrap_or("");
            from_1x.insert(v2.migrated_name(key).to_string(), value.to_string());
        }
        let twin = flow["flowContents"]["processors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["name"] == name)
            .unwrap_or_else(|| panic!("2.x flow has no processor named {name}"));
        let from_2x: std::collections::BTreeMap<String, String> = twin["properties"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| {
                let name = v2.migrated_name(k).to_string();
                (name, v.as_str().unwrap_or("").to_string())
            })
            .collect();
        // The one deliberate difference: a 1.x template cannot carry a sensitive value through
        // its upload, so it reads the token from NiFi's environment instead of a parameter.
        let (mut from_1x, mut from_2x) = (from_1x, from_2x);
        if let (Some(t1), Some(t2)) = (
            from_1x.remove("Authorization"),
            from_2x.remove("Authorization"),
        ) {
            assert_eq!(t1, "Bearer ${SNOWSTREAM_AUTH_TOKEN}");
            assert_eq!(t2, "#{snowstream_authorization}");
        }
        assert_eq!(
            from_1x, from_2x,
            "processor {name}: 1.x template and 2.x flow differ"
        );
        compared += 1;
    }
    assert_eq!(compared, 4);
}

#[test]
fn compose_file_is_consistent() {
    let problems = check_compose(&read("docker-compose.yml"), &repo_root()).unwrap();
    assert_clean("docker-compose.yml", &problems);
}

#[test]
fn env_example_documents_every_compose_variable() {
    assert_clean(
        ".env.example",
        &check_env_example(&read("docker-compose.yml"), &read(".env.example")),
    );
}

#[test]
fn compose_wires_the_services_together() {
    let doc: serde_json::Value = serde_norway::from_str(&read("docker-compose.yml")).unwrap();
    let s = &doc["services"];
    let health = s["snowstream"]["healthcheck"]["test"].as_array().unwrap();
    assert_eq!(health[1], "snowstream");
    assert_eq!(health[2], "healthcheck");
    assert!(
        s["nifi"]["image"]
            .as_str()
            .unwrap()
            .starts_with("apache/nifi:2.")
    );
    let generator = serde_json::to_string(&s["generator"]["command"]).unwrap();
    assert!(
        generator.contains("http://nifi:8081/contentListener"),
        "generator must post into NiFi's ListenHTTP"
    );
    let mounts = serde_json::to_string(&s["nifi"]["volumes"]).unwrap();
    assert!(
        mounts.contains("./nifi-templates:"),
        "flow definitions must be mounted into NiFi"
    );
}

#[test]
fn dockerfile_follows_the_rules() {
    assert_clean("Dockerfile", &check_dockerfile(&read("Dockerfile")));
}

#[test]
fn known_list_covers_both_lines() {
    let known = KnownNifi::bundled().unwrap();
    for t in ["ListenHTTP", "InvokeHTTP", "RetryFlowFile", "PutFile"] {
        let full = format!("org.apache.nifi.processors.standard.{t}");
        for line in [NifiLine::V1, NifiLine::V2] {
            assert!(
                known.find(line, "processor", &full).is_some(),
                "{t} missing for {line:?}"
            );
        }
    }
    // The 2.x rename that trips people up: "Attributes to Send" is 1.x only.
    let invoke2 = known
        .find(
            NifiLine::V2,
            "processor",
            "org.apache.nifi.processors.standard.InvokeHTTP",
        )
        .unwrap();
    assert!(invoke2.has_property("Request Header Attributes Pattern"));
    assert!(!invoke2.has_property("Attributes to Send"));
}

/// A flow file added later is checked too: every JSON and XML file under nifi-templates/.
#[test]
fn every_file_in_nifi_templates_is_checked() {
    let known = KnownNifi::bundled().unwrap();
    let (main, _) = check_flow_definition(&read(MAIN_FLOW), &known).unwrap();
    let mut seen = 0;
    let mut entries: Vec<_> = std::fs::read_dir(repo_root().join("nifi-templates"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let text = std::fs::read_to_string(&path).unwrap();
        let shown = path.display().to_string();
        match path.extension().and_then(|e| e.to_str()) {
            Some("json") => assert_clean(&shown, &check_flow_definition(&text, &known).unwrap().1),
            Some("xml") => assert_clean(
                &shown,
                &check_template(&text, &known, &main.parameters).unwrap(),
            ),
            Some("md") => continue,
            _ => panic!("{shown}: unexpected file in nifi-templates/"),
        }
        seen += 1;
    }
    assert_eq!(seen, 3);
}

#[test]
fn grafana_dashboard_is_consistent_with_its_provisioning() {
    let uids = provisioned_datasource_uids(&read(
        "deploy/grafana/provisioning/datasources/prometheus.yml",
    ))
    .unwrap();
    assert!(!uids.is_empty(), "no datasource uid provisioned");
    let dashboard = read("deploy/grafana/dashboard.json");
    assert_clean(
        "deploy/grafana/dashboard.json",
        &check_dashboard(&dashboard, &uids).unwrap(),
    );
    // The panels the issue asks for: throughput, latency, spool, staleness, Snowpipe, errors.
    let names = dashboard_metric_names(&dashboard).unwrap();
    for m in [
        "snowstream_records_received_total",
        "snowstream_ack_latency_seconds_bucket",
        "snowstream_spool_bytes",
        "snowstream_stream_stale",
        "snowstream_snowpipe_files_total",
        "snowstream_sink_errors_total",
        "snowstream_rejected_total",
    ] {
        assert!(names.contains(m), "dashboard has no panel on {m}");
    }
}

#[test]
fn compose_mounts_the_monitoring_files() {
    let doc: serde_json::Value = serde_norway::from_str(&read("docker-compose.yml")).unwrap();
    let mounts = |svc: &str| -> Vec<String> {
        doc["services"][svc]["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    assert!(
        mounts("prometheus")
            .iter()
            .any(|m| m.starts_with("./deploy/prometheus:/etc/prometheus"))
    );
    let g = mounts("grafana");
    assert!(
        g.iter()
            .any(|m| m.starts_with("./deploy/grafana/provisioning:/etc/grafana/provisioning"))
    );
    assert!(
        g.iter()
            .any(|m| m.starts_with("./deploy/grafana/dashboard.json:"))
    );
    // The scrape target is the snowstream service's receiver port.
    let prom = read("deploy/prometheus/prometheus.yml");
    assert!(
        prom.contains("snowstream:8080"),
        "prometheus.yml does not scrape snowstream:8080"
    );
}

#[test]
fn compose_is_fit_for_production() {
    let problems = deploy_check::check_compose_lifecycle(&read("docker-compose.yml")).unwrap();
    assert_clean("docker-compose.yml", &problems);
}
