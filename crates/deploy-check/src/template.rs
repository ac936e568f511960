//! NiFi 1.x XML templates (`<template><snippet>…`), as "Upload Template" reads them.

use crate::known::{KnownNifi, NifiLine};
use crate::params::{is_single_ref, parameter_refs};
use crate::{CheckError, Problem, problem};
use roxmltree::{Document, Node};
use std::collections::{BTreeMap, BTreeSet};

fn child<'a, 'i>(n: Node<'a, 'i>, tag: &str) -> Option<Node<'a, 'i>> {
    n.children().find(|c| c.has_tag_name(tag))
}

fn text_of(n: Node<'_, '_>, tag: &str) -> String {
    child(n, tag)
        .and_then(|c| c.text())
        .unwrap_or("")
        .to_string()
}

fn children<'a, 'i>(n: Node<'a, 'i>, tag: &'a str) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
    n.children().filter(move |c| c.has_tag_name(tag))
}

/// `<entry><key>k</key><value>…</value></entry>` maps.
fn entries<'a, 'i>(n: Option<Node<'a, 'i>>) -> Vec<(String, Node<'a, 'i>)> {
    n.map(|n| {
        children(n, "entry")
            .filter_map(|e| {
                Some((
                    child(e, "key")?.text().unwrap_or("").to_string(),
                    child(e, "value")?,
                ))
            })
            .collect()
    })
    .unwrap_or_default()
}

/// Checks a 1.x template. Templates carry no parameter context, so `parameters` is the set the
/// user is told to create (with sensitivity); every `#{x}` must be one of them.
pub fn check_template(
    xml: &str,
    known: &KnownNifi,
    parameters: &BTreeMap<String, bool>,
) -> Result<Vec<Problem>, CheckError> {
    let doc = Document::parse(xml)?;
    let root = doc.root_element();
    if !root.has_tag_name("template") {
        return Err(CheckError::Shape(format!(
            "root element is <{}>, not <template>",
            root.tag_name().name()
        )));
    }
    let snippet = child(root, "snippet").ok_or_else(|| CheckError::Shape("no <snippet>".into()))?;
    let mut out = Vec::new();

    let mut ids = BTreeSet::new();
    for tag in [
        "processors",
        "funnels",
        "inputPorts",
        "outputPorts",
        "processGroups",
    ] {
        for c in children(snippet, tag) {
            if !ids.insert(text_of(c, "id")) {
                problem(&mut out, format!("id `{}` is used twice", text_of(c, "id")));
            }
        }
    }

    let mut routed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for c in children(snippet, "connections") {
        let cid = text_of(c, "id");
        for end in ["source", "destination"] {
            let id = child(c, end).map(|e| text_of(e, "id")).unwrap_or_default();
            if !ids.contains(&id) {
                problem(
                    &mut out,
                    format!("connection `{cid}`: {end} `{id}` is not in the template"),
                );
            }
        }
        let rels: Vec<String> = children(c, "selectedRelationships")
            .filter_map(|r| r.text())
            .map(str::to_string)
            .collect();
        if rels.is_empty() {
            problem(
                &mut out,
                format!("connection `{cid}` selects no relationship"),
            );
        }
        let src = child(c, "source")
            .map(|e| text_of(e, "id"))
            .unwrap_or_default();
        routed.entry(src).or_default().extend(rels);
    }

    for p in children(snippet, "processors") {
        let name = text_of(p, "name");
        let type_name = text_of(p, "type");
        let Some(known) = known.find(NifiLine::V1, "processor", &type_name) else {
            problem(
                &mut out,
                format!("processor `{name}`: type `{type_name}` is not in the known NiFi 1.x list"),
            );
            continue;
        };
        let bundle = child(p, "bundle");
        let (group, artifact, version) = bundle
            .map(|b| {
                (
                    text_of(b, "group"),
                    text_of(b, "artifact"),
                    text_of(b, "version"),
                )
            })
            .unwrap_or_default();
        if group != "org.apache.nifi" || artifact != known.artifact || !version.starts_with("1.") {
            problem(
                &mut out,
                format!(
                    "processor `{name}`: bundle {group}:{artifact}:{version} should be org.apache.nifi:{}:1.x",
                    known.artifact
                ),
            );
        }
        let config = child(p, "config");
        let descriptors: BTreeMap<String, Node> =
            entries(config.and_then(|c| child(c, "descriptors")))
                .into_iter()
                .collect();
        // What 1.x template instantiation reads to make a dynamic property sensitive
        // (ProcessorConfigDTO.sensitiveDynamicPropertyNames); the descriptor's flag alone is
        // not applied, and the sensitive parameter reference is then refused.
        let sensitive_dynamic: BTreeSet<String> = config
            .map(|c| {
                children(c, "sensitiveDynamicPropertyNames")
                    .filter_map(|n| n.text())
                    .map(|t| t.trim().to_string())
                    .collect()
            })
            .unwrap_or_default();
        for (key, value) in entries(config.and_then(|c| child(c, "properties"))) {
            let desc = descriptors.get(&key);
            let flag = |f: &str| desc.map(|d| text_of(*d, f) == "true").unwrap_or(false);
            if let Some(text) = value.text()
                && let Some(p) = crate::bare_mime_type(&name, &known.type_name, &key, text)
            {
                problem(&mut out, p);
            }
            if flag("dynamic") && flag("sensitive") {
                if !sensitive_dynamic.contains(&key) {
                    problem(
                        &mut out,
                        format!(
                            "`{name}`: sensitive dynamic property `{key}` is not listed in <sensitiveDynamicPropertyNames>, so NiFi 1.x instantiates it non-sensitive"
                        ),
                    );
                }
                if min_nifi_1x(&text_of(root, "description")).is_none_or(|minor| minor < 17) {
                    problem(
                        &mut out,
                        format!(
                            "`{name}`: sensitive dynamic property `{key}` needs NiFi 1.17 or later; the template's description must say \"(1.17 or later)\" or a later 1.x"
                        ),
                    );
                }
            }
            let allowed_dynamic = flag("dynamic") && known.dynamic_properties;
            if !known.has_property(&key) && !allowed_dynamic {
                problem(
                    &mut out,
                    format!(
                        "`{name}`: property `{key}` is not a {} property in NiFi {}",
                        known.type_name, known.nifi_tag
                    ),
                );
            }
            let sensitive = known.is_sensitive(&key) || flag("sensitive");
            let text = value.text().unwrap_or("");
            if let Some(p) =
                lost_on_upload(&name, &key, text, flag("sensitive"), &sensitive_dynamic)
            {
                problem(&mut out, p);
            }
            if key.eq_ignore_ascii_case("authorization") && !sensitive && !text.contains("${") {
                problem(
                    &mut out,
                    format!(
                        "`{name}`: `{key}` holds a literal credential in a template anyone can download: read it from NiFi's environment (`Bearer ${{SNOWSTREAM_AUTH_TOKEN}}`)"
                    ),
                );
            }
            if !known.allows_value(&key, text) {
                problem(
                    &mut out,
                    format!(
                        "`{name}`: `{text}` is not an allowed value of `{key}` (allowed: {})",
                        known.values[&key].join(", ")
                    ),
                );
            }
            for r in parameter_refs(text) {
                match parameters.get(&r) {
                    None => problem(
                        &mut out,
                        format!(
                            "`{name}`: property `{key}` references parameter `{r}`, which is not among the documented parameters"
                        ),
                    ),
                    Some(s) if *s != sensitive => problem(
                        &mut out,
                        format!(
                            "`{name}`: property `{key}` and parameter `{r}` disagree on sensitivity"
                        ),
                    ),
                    Some(_) => {}
                }
            }
            if sensitive && !text.is_empty() && !is_single_ref(text) {
                problem(
                    &mut out,
                    format!(
                        "`{name}`: sensitive property `{key}` must be one `#{{parameter}}` reference, never a literal"
                    ),
                );
            }
        }
        let mut listed = BTreeSet::new();
        let mut auto = BTreeSet::new();
        for r in children(p, "relationships") {
            let rel = text_of(r, "name");
            if text_of(r, "autoTerminate") == "true" {
                auto.insert(rel.clone());
            }
            listed.insert(rel);
        }
        let id = text_of(p, "id");
        let out_rels = routed.get(&id).cloned().unwrap_or_default();
        for rel in listed.iter().chain(out_rels.iter()) {
            if !known.has_relationship(rel) {
                problem(
                    &mut out,
                    format!("`{name}`: {} has no relationship `{rel}`", known.type_name),
                );
            }
        }
        for rel in &known.relationships {
            if !auto.contains(rel) && !out_rels.contains(rel) {
                problem(
                    &mut out,
                    format!(
                        "`{name}`: relationship `{rel}` is neither connected nor auto-terminated"
                    ),
                );
            }
        }
    }
    Ok(out)
}

/// What "Upload Template" does to a property: `TemplateUtils.scrubTemplate` (rel/nifi-1.28.1
/// nifi-framework-core `TemplateUtils.java:228`) sets the value of every property whose
/// descriptor in the uploaded XML says `sensitive` to null, and instantiation applies the
/// processor's `sensitiveDynamicPropertyNames`, so a value there never reaches the flow: a
/// sensitive `Authorization` leaves InvokeHTTP sending no token (401 on every request).
fn lost_on_upload(
    name: &str,
    key: &str,
    value: &str,
    descriptor_sensitive: bool,
    sensitive_dynamic: &BTreeSet<String>,
) -> Option<String> {
    let scrubbed = descriptor_sensitive || sensitive_dynamic.contains(key);
    (scrubbed && !value.is_empty()).then(|| {
        format!(
            "`{name}`: `{key}` is sensitive, so uploading the template removes its value `{value}` (TemplateUtils.scrubTemplate): the flow would run without it. Take the value from NiFi's environment with Expression Language (e.g. `${{SNOWSTREAM_AUTH_TOKEN}}`) in a non-sensitive property"
        )
    })
}

/// The least NiFi 1.x minor version a template's description states, as "(1.N or later)".
fn min_nifi_1x(description: &str) -> Option<u32> {
    let rest = description.split("(1.").nth(1)?;
    let (minor, tail) = rest.split_once(' ')?;
    tail.starts_with("or later").then_some(())?;
    minor.parse().ok()
}
