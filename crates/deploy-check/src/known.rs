//! The list of NiFi components our flows may use, loaded from `known-nifi.toml`.

use crate::CheckError;
use crate::releases::Releases;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Which NiFi major line a flow file targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum NifiLine {
    /// NiFi 1.x (XML templates).
    #[serde(rename = "1")]
    V1,
    /// NiFi 2.x (JSON flow definitions).
    #[serde(rename = "2")]
    V2,
}

/// One processor or controller service as NiFi's source defines it.
#[derive(Debug, Clone, Deserialize)]
pub struct Component {
    pub line: NifiLine,
    pub kind: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub artifact: String,
    pub nifi_tag: String,
    pub dynamic_properties: bool,
    /// Property names (2.x: those of the latest release in `nifi-2x-releases.toml`).
    #[serde(default)]
    pub properties: Vec<String>,
    pub sensitive: Vec<String>,
    pub relationships: Vec<String>,
    /// Allowed values of enumerated properties (only those our flows set are listed).
    #[serde(default)]
    pub values: BTreeMap<String, Vec<String>>,
    /// Old property name -> current name, as the component's `migrateProperties` renames it
    /// when a flow is imported (2.x components only, from the latest release's source).
    #[serde(default)]
    pub renamed_from: BTreeMap<String, String>,
}

impl Component {
    pub fn has_property(&self, name: &str) -> bool {
        self.properties.iter().any(|p| p == name)
    }
    pub fn is_sensitive(&self, name: &str) -> bool {
        self.sensitive.iter().any(|p| p == name)
    }
    /// Whether a literal value is allowed for the property; values with parameter or
    /// expression-language references are judged only when NiFi resolves them.
    pub fn allows_value(&self, property: &str, value: &str) -> bool {
        if value.contains("#{") || value.contains("${") {
            return true;
        }
        self.values
            .get(property)
            .is_none_or(|allowed| allowed.iter().any(|v| v == value))
    }

    /// The name this (2.x) component gives, once a flow is imported, to a property the flow
    /// (or a 1.x template) calls `old`: its `migrateProperties` renames old names.
    pub fn migrated_name<'a>(&'a self, old: &'a str) -> &'a str {
        self.renamed_from
            .get(old)
            .map(String::as_str)
            .unwrap_or(old)
    }

    pub fn has_relationship(&self, name: &str) -> bool {
        self.relationships.iter().any(|r| r == name)
    }
}

#[derive(Debug, Deserialize)]
struct File {
    component: Vec<Component>,
}

/// All known components, and the 2.x releases flow definitions are checked against.
#[derive(Debug, Clone)]
pub struct KnownNifi {
    components: Vec<Component>,
    releases: Releases,
}

impl KnownNifi {
    /// The list shipped with this crate.
    pub fn bundled() -> Result<Self, CheckError> {
        Self::parse(
            include_str!("../known-nifi.toml"),
            include_str!("../nifi-2x-releases.toml"),
        )
    }

    /// `components` in the form of `known-nifi.toml`, `releases` in that of
    /// `nifi-2x-releases.toml`; a 2.x component takes its property names and renames from its
    /// latest release.
    pub fn parse(components: &str, releases: &str) -> Result<Self, CheckError> {
        let file: File = toml::from_str(components)?;
        let releases = Releases::parse(releases)?;
        let mut components = file.component;
        for c in components.iter_mut().filter(|c| c.line == NifiLine::V2) {
            let latest = releases.latest(&c.type_name).ok_or_else(|| {
                CheckError::Shape(format!("no 2.x release lists {}", c.type_name))
            })?;
            c.properties = latest.properties.clone();
            c.renamed_from = latest.renames.clone();
        }
        Ok(Self {
            components,
            releases,
        })
    }

    /// The 2.x releases, per component.
    pub fn releases(&self) -> &Releases {
        &self.releases
    }

    /// The component of that type, kind ("processor" or "controller-service") and line.
    pub fn find(&self, line: NifiLine, kind: &str, type_name: &str) -> Option<&Component> {
        self.components
            .iter()
            .find(|c| c.line == line && c.kind == kind && c.type_name == type_name)
    }
}
