//! The list of NiFi components our flows may use, loaded from `known-nifi.toml`.

use crate::CheckError;
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
    pub properties: Vec<String>,
    pub sensitive: Vec<String>,
    pub relationships: Vec<String>,
    /// Allowed values of enumerated properties (only those our flows set are listed).
    #[serde(default)]
    pub values: BTreeMap<String, Vec<String>>,
    /// 1.x property name -> 2.x name, for properties NiFi 2 renamed (2.x components only).
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

    /// The name this (2.x) component uses for a property a 1.x flow calls `name_1x`.
    pub fn name_from_1x<'a>(&'a self, name_1x: &'a str) -> &'a str {
        self.renamed_from
            .get(name_1x)
            .map(String::as_str)
            .unwrap_or(name_1x)
    }

    pub fn has_relationship(&self, name: &str) -> bool {
        self.relationships.iter().any(|r| r == name)
    }
}

#[derive(Debug, Deserialize)]
struct File {
    component: Vec<Component>,
}

/// All known components.
#[derive(Debug, Clone)]
pub struct KnownNifi {
    components: Vec<Component>,
}

impl KnownNifi {
    /// The list shipped with this crate.
    pub fn bundled() -> Result<Self, CheckError> {
        Self::parse(include_str!("../known-nifi.toml"))
    }

    pub fn parse(text: &str) -> Result<Self, CheckError> {
        let file: File = toml::from_str(text)?;
        Ok(Self {
            components: file.component,
        })
    }

    /// The component of that type, kind ("processor" or "controller-service") and line.
    pub fn find(&self, line: NifiLine, kind: &str, type_name: &str) -> Option<&Component> {
        self.components
            .iter()
            .find(|c| c.line == line && c.kind == kind && c.type_name == type_name)
    }
}
