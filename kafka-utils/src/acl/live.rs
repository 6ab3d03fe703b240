//! An ACL as the broker holds it, and how it maps to what a topology declares.

use std::fmt;

use serde::Serialize;

use crate::topology::{AclBinding, AclOperation, PatternType, ResourceType};

/// An ACL as the broker holds it: any resource type, operation, host or permission, not
/// only those a topology's grants imply.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct LiveAcl {
    /// `User:<name>`.
    pub principal: String,
    /// `Topic`, `Group`, `Cluster` or `TransactionalId`.
    pub resource_type: String,
    /// The resource name (or prefix).
    pub resource_name: String,
    /// `Literal` or `Prefixed`.
    pub pattern_type: String,
    /// `Read`, `Write`, `Describe`, `All`, … (Kafka's operation names).
    pub operation: String,
    /// `Allow` or `Deny`.
    pub permission: String,
    /// The host, `*` for any.
    pub host: String,
}

impl LiveAcl {
    /// The ACL a topology would declare for this one, if it is of that kind (allow, any
    /// host, topic or group, read, write or describe).
    pub fn binding(&self) -> Option<AclBinding> {
        if self.permission != "Allow" || self.host != "*" {
            return None;
        }
        let resource_type = match self.resource_type.as_str() {
            "Topic" => ResourceType::Topic,
            "Group" => ResourceType::Group,
            _ => return None,
        };
        let pattern_type = match self.pattern_type.as_str() {
            "Literal" => PatternType::Literal,
            "Prefixed" => PatternType::Prefixed,
            _ => return None,
        };
        let operation = match self.operation.as_str() {
            "Read" => AclOperation::Read,
            "Write" => AclOperation::Write,
            "Describe" => AclOperation::Describe,
            _ => return None,
        };
        Some(AclBinding {
            principal: self.principal.clone(),
            resource_type,
            resource_name: self.resource_name.clone(),
            pattern_type,
            operation,
        })
    }
}

impl From<&AclBinding> for LiveAcl {
    fn from(acl: &AclBinding) -> Self {
        LiveAcl {
            principal: acl.principal.clone(),
            resource_type: format!("{:?}", acl.resource_type),
            resource_name: acl.resource_name.clone(),
            pattern_type: format!("{:?}", acl.pattern_type),
            operation: format!("{:?}", acl.operation),
            permission: "Allow".into(),
            host: "*".into(),
        }
    }
}

impl fmt::Display for LiveAcl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} on {} `{}` ({}) from host {}",
            self.permission.to_lowercase(),
            self.principal,
            self.operation,
            self.resource_type,
            self.resource_name,
            self.pattern_type,
            self.host
        )
    }
}
