//! NiFi 2.x flow definitions: the JSON that "Download flow definition" writes and
//! "Upload flow definition" reads (`flowContents`, `parameterContexts`, ...).

use crate::known::{Component, KnownNifi, NifiLine};
use crate::params::{is_single_ref, parameter_refs};
use crate::{CheckError, Problem, problem};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// What a flow definition contains, for tests that compare flows with each other.
#[derive(Debug, Default, Clone)]
pub struct FlowSummary {
    /// Processor types, one entry per processor.
    pub processor_types: Vec<String>,
    /// Parameters defined in the flow's parameter contexts, with their sensitivity.
    pub parameters: BTreeMap<String, bool>,
    /// Parameters referenced from property values anywhere in the flow.
    pub referenced_parameters: BTreeSet<String>,
}

/// Checks a flow definition and returns its summary and every problem found.
pub fn check_flow_definition(
    json: &str,
    known: &KnownNifi,
) -> Result<(FlowSummary, Vec<Problem>), CheckError> {
    let root: Value = serde_json::from_str(json)?;
    let contents = root
        .get("flowContents")
        .ok_or_else(|| CheckError::Shape("no `flowContents`: not a flow definition".into()))?;
    let contexts = root
        .get("parameterContexts")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut out = Vec::new();
    let mut summary = FlowSummary::default();
    for (name, ctx) in &contexts {
        if ctx.get("name").and_then(Value::as_str) != Some(name) {
            problem(
                &mut out,
                format!("parameter context key `{name}` differs from its `name`"),
            );
        }
        for p in arr(ctx, "parameters") {
            let pname = str_of(p, "name");
            let sensitive = p.get("sensitive").and_then(Value::as_bool).unwrap_or(false);
            if sensitive && p.get("value").is_some_and(|v| !v.is_null()) {
                problem(
                    &mut out,
                    format!(
                        "sensitive parameter `{pname}` carries a value: secrets must not be committed"
                    ),
                );
            }
            summary.parameters.insert(pname.to_string(), sensitive);
        }
    }
    let mut walker = Walker {
        known,
        contexts: &contexts,
        out: &mut out,
        summary: &mut summary,
    };
    walker.group(contents, None, &[]);
    for name in summary.parameters.keys() {
        if !summary.referenced_parameters.contains(name) {
            problem(
                &mut out,
                format!("parameter `{name}` is defined but no property uses it"),
            );
        }
    }
    Ok((summary, out))
}

struct Walker<'a> {
    known: &'a KnownNifi,
    contexts: &'a Map<String, Value>,
    out: &'a mut Vec<Problem>,
    summary: &'a mut FlowSummary,
}

fn arr<'v>(v: &'v Value, key: &str) -> &'v [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn str_of<'v>(v: &'v Value, key: &str) -> &'v str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

impl Walker<'_> {
    fn group(&mut self, group: &Value, inherited_ctx: Option<&str>, outer_services: &[String]) {
        let gid = str_of(group, "identifier").to_string();
        let gname = str_of(group, "name").to_string();
        let ctx_name = group
            .get("parameterContextName")
            .and_then(Value::as_str)
            .or(inherited_ctx);
        let params: BTreeMap<String, bool> = match ctx_name {
            Some(n) => match self.contexts.get(n) {
                Some(ctx) => arr(ctx, "parameters")
                    .iter()
                    .map(|p| {
                        let s = p.get("sensitive").and_then(Value::as_bool).unwrap_or(false);
                        (str_of(p, "name").to_string(), s)
                    })
                    .collect(),
                None => {
                    problem(
                        self.out,
                        format!(
                            "group `{gname}` names parameter context `{n}`, which the file does not define"
                        ),
                    );
                    BTreeMap::new()
                }
            },
            None => BTreeMap::new(),
        };

        let mut services: Vec<String> = outer_services.to_vec();
        for cs in arr(group, "controllerServices") {
            services.push(str_of(cs, "identifier").to_string());
        }

        // Components a connection may touch, by id.
        let mut ids: BTreeMap<String, &str> = BTreeMap::new();
        for (key, kind) in [
            ("processors", "PROCESSOR"),
            ("funnels", "FUNNEL"),
            ("inputPorts", "INPUT_PORT"),
            ("outputPorts", "OUTPUT_PORT"),
        ] {
            for c in arr(group, key) {
                let id = str_of(c, "identifier").to_string();
                if c.get("groupIdentifier")
                    .and_then(Value::as_str)
                    .is_some_and(|g| g != gid)
                {
                    problem(
                        self.out,
                        format!(
                            "{kind} `{}` says it belongs to group `{}`, but sits in `{gname}`",
                            str_of(c, "name"),
                            str_of(c, "groupIdentifier")
                        ),
                    );
                }
                if ids.insert(id.clone(), kind).is_some() {
                    problem(
                        self.out,
                        format!("identifier `{id}` is used twice in group `{gname}`"),
                    );
                }
            }
        }

        // Relationships each processor routes somewhere.
        let mut routed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for c in arr(group, "connections") {
            let cname = format!("connection `{}`", str_of(c, "identifier"));
            let (Some(src), Some(dst)) = (c.get("source"), c.get("destination")) else {
                problem(self.out, format!("{cname} lacks a source or destination"));
                continue;
            };
            for (end, label) in [(src, "source"), (dst, "destination")] {
                let id = str_of(end, "id");
                match ids.get(id) {
                    None => problem(
                        self.out,
                        format!(
                            "{cname}: {label} `{id}` ({}) is not a component of group `{gname}`",
                            str_of(end, "name")
                        ),
                    ),
                    Some(kind) if *kind != str_of(end, "type") => problem(
                        self.out,
                        format!(
                            "{cname}: {label} `{id}` is a {kind}, the connection says {}",
                            str_of(end, "type")
                        ),
                    ),
                    Some(_) => {}
                }
                if str_of(end, "groupId") != gid {
                    problem(
                        self.out,
                        format!(
                            "{cname}: {label} groupId `{}` is not the group `{gid}`",
                            str_of(end, "groupId")
                        ),
                    );
                }
            }
            let rels: Vec<String> = arr(c, "selectedRelationships")
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect();
            if str_of(src, "type") == "PROCESSOR" && rels.is_empty() {
                problem(
                    self.out,
                    format!("{cname} from a processor selects no relationship"),
                );
            }
            routed
                .entry(str_of(src, "id").to_string())
                .or_default()
                .extend(rels);
        }

        for p in arr(group, "processors") {
            self.processor(p, &routed, &params, &services);
        }
        for cs in arr(group, "controllerServices") {
            self.service(cs, &params);
        }
        for child in arr(group, "processGroups") {
            self.group(child, ctx_name, &services);
        }
    }

    fn lookup(&mut self, kind: &str, c: &Value) -> Option<&Component> {
        let name = str_of(c, "name");
        let type_name = str_of(c, "type");
        let Some(known) = self.known.find(NifiLine::V2, kind, type_name) else {
            problem(
                self.out,
                format!("{kind} `{name}`: type `{type_name}` is not in the known NiFi 2.x list"),
            );
            return None;
        };
        let bundle = c.get("bundle").cloned().unwrap_or(Value::Null);
        if str_of(&bundle, "group") != "org.apache.nifi"
            || str_of(&bundle, "artifact") != known.artifact
        {
            problem(
                self.out,
                format!(
                    "{kind} `{name}`: bundle must be org.apache.nifi:{} (found {}:{})",
                    known.artifact,
                    str_of(&bundle, "group"),
                    str_of(&bundle, "artifact")
                ),
            );
        }
        if !str_of(&bundle, "version").starts_with("2.") {
            problem(
                self.out,
                format!(
                    "{kind} `{name}`: bundle version `{}` is not a NiFi 2.x version",
                    str_of(&bundle, "version")
                ),
            );
        }
        Some(known)
    }

    /// Property names, descriptor flags and parameter references of one component.
    fn properties(&mut self, known: &Component, c: &Value, params: &BTreeMap<String, bool>) {
        let name = str_of(c, "name").to_string();
        let props = c
            .get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let descriptors = c
            .get("propertyDescriptors")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for (key, value) in &props {
            if let Some(text) = value.as_str()
                && let Some(p) = crate::bare_mime_type(&name, &known.type_name, key, text)
            {
                problem(self.out, p);
            }
            let desc = descriptors.get(key);
            let flag = |f: &str| {
                desc.and_then(|d| d.get(f))
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
            };
            let dynamic = flag("dynamic");
            // An older name is renamed on import (migrateProperties), so it is judged by the
            // name it gets; `check_flow_releases` checks it on each release.
            let key = known.migrated_name(key);
            if !known.has_property(key) {
                if !dynamic {
                    problem(
                        self.out,
                        format!(
                            "`{name}`: property `{key}` is not a {} property in NiFi {} (typo, display name, or missing `dynamic: true`?)",
                            known.type_name, known.nifi_tag
                        ),
                    );
                } else if !known.dynamic_properties {
                    problem(
                        self.out,
                        format!(
                            "`{name}`: {} takes no dynamic properties, yet `{key}` is one",
                            known.type_name
                        ),
                    );
                }
            }
            let sensitive = known.is_sensitive(key) || (dynamic && flag("sensitive"));
            if known.is_sensitive(key) && desc.is_some() && !flag("sensitive") {
                problem(
                    self.out,
                    format!(
                        "`{name}`: property `{key}` is sensitive in NiFi but its descriptor says otherwise"
                    ),
                );
            }
            let Some(text) = value.as_str() else { continue };
            if !known.allows_value(key, text) {
                problem(
                    self.out,
                    format!(
                        "`{name}`: `{text}` is not an allowed value of `{key}` (allowed: {})",
                        known.values[key].join(", ")
                    ),
                );
            }
            let refs = parameter_refs(text);
            for r in &refs {
                self.summary.referenced_parameters.insert(r.clone());
                match params.get(r) {
                    None => problem(
                        self.out,
                        format!(
                            "`{name}`: property `{key}` references parameter `{r}`, which the group's parameter context does not define"
                        ),
                    ),
                    Some(true) if !sensitive => problem(
                        self.out,
                        format!(
                            "`{name}`: non-sensitive property `{key}` references sensitive parameter `{r}` (NiFi refuses this)"
                        ),
                    ),
                    Some(false) if sensitive => problem(
                        self.out,
                        format!(
                            "`{name}`: sensitive property `{key}` references non-sensitive parameter `{r}` (NiFi refuses this)"
                        ),
                    ),
                    Some(_) => {}
                }
            }
            if sensitive && !is_single_ref(text) {
                problem(
                    self.out,
                    format!(
                        "`{name}`: sensitive property `{key}` must be exactly one `#{{parameter}}` reference, never a literal secret"
                    ),
                );
            }
        }
    }

    fn processor(
        &mut self,
        p: &Value,
        routed: &BTreeMap<String, BTreeSet<String>>,
        params: &BTreeMap<String, bool>,
        services: &[String],
    ) {
        self.summary
            .processor_types
            .push(str_of(p, "type").to_string());
        let Some(known) = self.lookup("processor", p).cloned() else {
            return;
        };
        self.properties(&known, p, params);
        let name = str_of(p, "name").to_string();
        let descriptors = p
            .get("propertyDescriptors")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for (key, d) in &descriptors {
            if d.get("identifiesControllerService")
                .and_then(Value::as_bool)
                == Some(true)
            {
                let id = p
                    .get("properties")
                    .and_then(|ps| ps.get(key))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                if !id.is_empty() && !services.iter().any(|s| s == id) {
                    problem(
                        self.out,
                        format!(
                            "`{name}`: property `{key}` points at controller service `{id}`, which is not in this group or above"
                        ),
                    );
                }
            }
        }
        let auto: BTreeSet<String> = arr(p, "autoTerminatedRelationships")
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        let out_rels = routed
            .get(str_of(p, "identifier"))
            .cloned()
            .unwrap_or_default();
        for rel in auto.iter().chain(out_rels.iter()) {
            if !known.has_relationship(rel) {
                problem(
                    self.out,
                    format!(
                        "`{name}`: {} has no relationship `{rel}` (it has: {})",
                        known.type_name,
                        known.relationships.join(", ")
                    ),
                );
            }
        }
        for rel in arr(p, "retriedRelationships")
            .iter()
            .filter_map(Value::as_str)
        {
            if !known.has_relationship(rel) {
                problem(
                    self.out,
                    format!("`{name}`: retried relationship `{rel}` does not exist"),
                );
            }
        }
        for rel in &known.relationships {
            if !auto.contains(rel) && !out_rels.contains(rel) {
                problem(
                    self.out,
                    format!(
                        "`{name}`: relationship `{rel}` is neither connected nor auto-terminated (NiFi will not start the processor)"
                    ),
                );
            }
        }
    }

    fn service(&mut self, cs: &Value, params: &BTreeMap<String, bool>) {
        if let Some(known) = self.lookup("controller-service", cs).cloned() {
            self.properties(&known, cs, params);
        }
    }
}
