//! Kafka ACLs through librdkafka's admin API: create, describe, delete (rust-rdkafka has no
//! wrapper for them). [`crate::admin::KafkaAdmin`] uses these to provision what a topology's
//! grants imply; they are public for tools that manage ACLs themselves.
//!
//! The calls block until the broker answers (call them from `spawn_blocking` in async
//! code). The caller must be allowed to alter the cluster's ACLs (a super user, or `ALTER`
//! on the cluster). Creating an ACL that exists already succeeds.
//!
//! ```no_run
//! use std::time::Duration;
//! use kafka_utils::acl;
//! use kafka_utils::settings::Settings;
//!
//! # fn main() -> Result<(), kafka_utils::Error> {
//! let settings = Settings::from_env()?;
//! let admin = acl::admin_client(&settings)?;
//! for live in acl::describe_acls(&admin, "User:alice", Duration::from_secs(10))? {
//!     println!("{live}");
//! }
//! # Ok(()) }
//! ```

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::Error;
use crate::settings::Settings;
pub use crate::sys::Admin;
use crate::topology::{AclBinding, AclOperation, PatternType, ResourceType};

/// An admin client for the cluster of `settings` (any security protocol).
pub fn admin_client(settings: &Settings) -> Result<Admin, Error> {
    settings
        .client_config()?
        .create()
        .map_err(|e| crate::settings::client_error("creating an admin client", e))
}

impl crate::settings::Rotate for Admin {
    fn set_credentials(&self, username: &str, password: &str) -> Result<(), String> {
        crate::sys::set_sasl_credentials(self.inner().native_client(), username, password)
    }

    fn refusal(&self) -> Option<&crate::refusal::Refusal> {
        None
    }
}

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

/// Creates `acls`, waiting up to `timeout` for the broker.
pub fn create_acls(admin: &Admin, acls: &[AclBinding], timeout: Duration) -> Result<(), Error> {
    crate::sys::acl::create_acls(admin, acls, timeout)
}

/// The ACLs of `principal` (`User:<name>`) on any resource.
pub fn describe_acls(
    admin: &Admin,
    principal: &str,
    timeout: Duration,
) -> Result<Vec<LiveAcl>, Error> {
    crate::sys::acl::describe_acls(admin, principal, timeout)
}

/// Deletes exactly `acls` (each must match a whole ACL: no empty name or host), and
/// returns the ACLs the broker deleted.
pub fn delete_acls(
    admin: &Admin,
    acls: &[LiveAcl],
    timeout: Duration,
) -> Result<Vec<LiveAcl>, Error> {
    crate::sys::acl::delete_acls(admin, acls, timeout)
}
