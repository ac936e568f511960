//! The shipped 2.x flow definitions against every NiFi 2.x release (`nifi-2x-releases.toml`).

use crate::support::{MAIN_FLOW, S3_FLOW, assert_clean, assert_reports, read};
use deploy_check::{KnownNifi, NifiLine, Problem, check_flow_releases};
use serde_json::Value;

fn check(flow: &Value) -> Vec<Problem> {
    let known = KnownNifi::bundled().unwrap();
    check_flow_releases(&flow.to_string(), known.releases()).unwrap()
}

/// The flow as it would be written with the newest release's names: every property renamed
/// the way that release's migrateProperties renames it (what `docs/nifi.md` shipped until the
/// 2.0 floor was checked).
fn with_newest_names(mut flow: Value) -> Value {
    let known = KnownNifi::bundled().unwrap();
    fn walk(group: &mut Value, known: &KnownNifi) {
        for (key, kind) in [
            ("processors", "processor"),
            ("controllerServices", "controller-service"),
        ] {
            for c in group[key].as_array_mut().into_iter().flatten() {
                let type_name = c["type"].as_str().unwrap().to_string();
                let component = known.find(NifiLine::V2, kind, &type_name).unwrap();
                let props = c["properties"].as_object().unwrap().clone();
                c["properties"] = props
                    .into_iter()
                    .map(|(k, v)| (component.migrated_name(&k).to_string(), v))
                    .collect();
            }
        }
        for child in group["processGroups"].as_array_mut().into_iter().flatten() {
            walk(child, known);
        }
    }
    walk(&mut flow["flowContents"], &known);
    flow
}

fn parse(path: &str) -> Value {
    serde_json::from_str(&read(path)).unwrap()
}

#[test]
fn releases_span_2_0_0_to_the_newest() {
    let known = KnownNifi::bundled().unwrap();
    assert_eq!(known.releases().span(), ("2.0.0", "2.11.0"));
    // docs/nifi.md states the same floor.
    assert!(
        read("docs/nifi.md")
            .contains("2.0.0 and later (checked against every release 2.0.0 to 2.11.0")
    );
}

#[test]
fn shipped_flows_import_on_every_2x_release() {
    for path in [MAIN_FLOW, S3_FLOW] {
        assert_clean(path, &check(&parse(path)));
    }
}

#[test]
fn ingest_flow_with_2_7_names_fails_on_2_0_to_2_6_only() {
    let problems = check(&with_newest_names(parse(MAIN_FLOW)));
    assert_reports(
        &problems,
        &["on NiFi 2.0.0 to 2.3.0", "`HTTP Headers for Attributes`"],
    );
    assert_reports(&problems, &["on NiFi 2.4.0 to 2.6.0", "ListenHTTP"]);
    assert_reports(
        &problems,
        &[
            "on NiFi 2.0.0 to 2.6.0",
            "`Retry Attribute`",
            "RetryFlowFile",
        ],
    );
    for p in &problems {
        assert!(
            !["2.7.", "2.8.", "2.9.", "2.10.", "2.11."]
                .iter()
                .any(|v| p.0.contains(&format!("on NiFi {v}"))),
            "2.7.0 and later take the new names: {p}"
        );
    }
}

#[test]
fn s3_flow_with_a_custom_region_fails_before_2_7() {
    let mut flow = with_newest_names(parse(S3_FLOW));
    let put = flow["flowContents"]["processors"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|p| p["type"] == "org.apache.nifi.processors.aws.s3.PutS3Object")
        .unwrap();
    put["properties"]["Region"] = "use-custom-region".into();
    put["properties"]["Custom Region"] = "#{s3_region}".into();
    let problems = check(&flow);
    assert_reports(
        &problems,
        &[
            "on NiFi 2.0.0 to 2.2.0",
            "`use-custom-region` is not an allowed value",
        ],
    );
    assert_reports(&problems, &["on NiFi 2.6.0", "`Custom Region`"]);
    // The credentials service's 2.6.0 names do not exist before it.
    assert_reports(&problems, &["on NiFi 2.0.0 to 2.5.0", "`Access Key ID`"]);
    assert!(
        !problems
            .iter()
            .any(|p| p.0.contains("on NiFi 2.7.0") || p.0.contains("on NiFi 2.8.0")),
        "{problems:#?}"
    );
}

#[test]
fn a_name_no_release_knows_is_reported_for_every_range() {
    let mut flow = parse(MAIN_FLOW);
    let invoke = flow["flowContents"]["processors"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|p| p["type"] == "org.apache.nifi.processors.standard.InvokeHTTP")
        .unwrap();
    invoke["properties"]["Socket Read Timout"] = "30 secs".into();
    let problems = check(&flow);
    let hits = problems
        .iter()
        .filter(|p| p.0.contains("`Socket Read Timout`"))
        .count();
    assert!(
        hits >= 3,
        "one problem per range of InvokeHTTP releases: {problems:#?}"
    );
}
