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

#![allow(unsafe_code)]

use std::fmt;
use std::time::Duration;

use rdkafka::bindings as rd;
use rdkafka::bindings::rd_kafka_AclOperation_t as Op;
use rdkafka::bindings::rd_kafka_AclPermissionType_t as Perm;
use rdkafka::bindings::rd_kafka_ResourcePatternType_t as Pattern;
use rdkafka::bindings::rd_kafka_ResourceType_t as Res;
use serde::Serialize;

use crate::Error;
use crate::settings::Settings;
pub use crate::sys::Admin;
use crate::sys::{ErrStr, Request, c_string, error_text, text};
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

const RESOURCE_TYPES: &[(Res, &str)] = &[
    (Res::RD_KAFKA_RESOURCE_TOPIC, "Topic"),
    (Res::RD_KAFKA_RESOURCE_GROUP, "Group"),
    (Res::RD_KAFKA_RESOURCE_BROKER, "Cluster"),
    (Res::RD_KAFKA_RESOURCE_TRANSACTIONAL_ID, "TransactionalId"),
];

const PATTERNS: &[(Pattern, &str)] = &[
    (Pattern::RD_KAFKA_RESOURCE_PATTERN_LITERAL, "Literal"),
    (Pattern::RD_KAFKA_RESOURCE_PATTERN_PREFIXED, "Prefixed"),
];

const OPERATIONS: &[(Op, &str)] = &[
    (Op::RD_KAFKA_ACL_OPERATION_ALL, "All"),
    (Op::RD_KAFKA_ACL_OPERATION_READ, "Read"),
    (Op::RD_KAFKA_ACL_OPERATION_WRITE, "Write"),
    (Op::RD_KAFKA_ACL_OPERATION_CREATE, "Create"),
    (Op::RD_KAFKA_ACL_OPERATION_DELETE, "Delete"),
    (Op::RD_KAFKA_ACL_OPERATION_ALTER, "Alter"),
    (Op::RD_KAFKA_ACL_OPERATION_DESCRIBE, "Describe"),
    (Op::RD_KAFKA_ACL_OPERATION_CLUSTER_ACTION, "ClusterAction"),
    (
        Op::RD_KAFKA_ACL_OPERATION_DESCRIBE_CONFIGS,
        "DescribeConfigs",
    ),
    (Op::RD_KAFKA_ACL_OPERATION_ALTER_CONFIGS, "AlterConfigs"),
    (
        Op::RD_KAFKA_ACL_OPERATION_IDEMPOTENT_WRITE,
        "IdempotentWrite",
    ),
];

const PERMISSIONS: &[(Perm, &str)] = &[
    (Perm::RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW, "Allow"),
    (Perm::RD_KAFKA_ACL_PERMISSION_TYPE_DENY, "Deny"),
];

fn name_of<T: PartialEq + Copy>(table: &[(T, &'static str)], value: T) -> &'static str {
    table
        .iter()
        .find(|(v, _)| *v == value)
        .map_or("Unknown", |(_, n)| n)
}

fn value_of<T: Copy>(table: &[(T, &'static str)], name: &str, what: &str) -> Result<T, Error> {
    table
        .iter()
        .find(|(_, n)| *n == name)
        .map(|(v, _)| *v)
        .ok_or_else(|| Error::Admin {
            what: format!("{what} `{name}`"),
            message: format!(
                "is not one librdkafka knows; expected one of {}",
                table
                    .iter()
                    .map(|(_, n)| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
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

/// Owns native ACL bindings (or filters) and destroys them.
struct Bindings(Vec<*mut rd::rd_kafka_AclBinding_t>);

impl Drop for Bindings {
    fn drop(&mut self) {
        for binding in self.0.drain(..) {
            // SAFETY: each pointer came from rd_kafka_AclBinding(Filter)_new and is
            // destroyed once.
            unsafe { rd::rd_kafka_AclBinding_destroy(binding) };
        }
    }
}

/// A native binding (`filter` false) or filter (`filter` true) for `acl`; in a filter an
/// empty `resource_name` or `host` matches any.
fn native(acl: &LiveAcl, filter: bool) -> Result<*mut rd::rd_kafka_AclBinding_t, Error> {
    let restype = value_of(RESOURCE_TYPES, &acl.resource_type, "resource type")?;
    let pattern = value_of(PATTERNS, &acl.pattern_type, "pattern type")?;
    let operation = value_of(OPERATIONS, &acl.operation, "ACL operation")?;
    let permission = value_of(PERMISSIONS, &acl.permission, "ACL permission")?;
    let name = c_string("resource name", &acl.resource_name)?;
    let principal = c_string("principal", &acl.principal)?;
    let host = c_string("host", &acl.host)?;
    let mut errstr = ErrStr::new();
    // SAFETY: every string is NUL-terminated and outlives the call (librdkafka copies
    // them); errstr is a writable buffer of the size given.
    let binding = unsafe {
        let new = if filter {
            rd::rd_kafka_AclBindingFilter_new
        } else {
            rd::rd_kafka_AclBinding_new
        };
        new(
            restype,
            name.as_ptr(),
            pattern,
            principal.as_ptr(),
            host.as_ptr(),
            operation,
            permission,
            errstr.ptr(),
            errstr.len(),
        )
    };
    if binding.is_null() {
        return Err(Error::Admin {
            what: format!("ACL `{acl}`"),
            message: errstr.message(),
        });
    }
    Ok(binding)
}

/// Reads a native binding into a [`LiveAcl`].
///
/// # Safety
///
/// `acl` is a live binding.
unsafe fn live(acl: *const rd::rd_kafka_AclBinding_t) -> LiveAcl {
    // SAFETY: acl is live per the caller's contract; its strings live as long as it does.
    unsafe {
        LiveAcl {
            principal: text(rd::rd_kafka_AclBinding_principal(acl), ""),
            resource_type: name_of(RESOURCE_TYPES, rd::rd_kafka_AclBinding_restype(acl)).into(),
            resource_name: text(rd::rd_kafka_AclBinding_name(acl), ""),
            pattern_type: name_of(PATTERNS, rd::rd_kafka_AclBinding_resource_pattern_type(acl))
                .into(),
            operation: name_of(OPERATIONS, rd::rd_kafka_AclBinding_operation(acl)).into(),
            permission: name_of(PERMISSIONS, rd::rd_kafka_AclBinding_permission_type(acl)).into(),
            host: text(rd::rd_kafka_AclBinding_host(acl), "*"),
        }
    }
}

/// Creates `acls`, waiting up to `timeout` for the broker.
pub fn create_acls(admin: &Admin, acls: &[AclBinding], timeout: Duration) -> Result<(), Error> {
    if acls.is_empty() {
        return Ok(());
    }
    let mut bindings = Bindings(Vec::with_capacity(acls.len()));
    for acl in acls {
        bindings.0.push(native(&LiveAcl::from(acl), false)?);
    }
    let op = rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_CREATEACLS;
    let request = Request::new(admin, op, timeout, format!("creating {} ACLs", acls.len()))?;
    // SAFETY: the bindings array is valid for the call (librdkafka copies the bindings);
    // the request's handle, options and queue are live.
    unsafe {
        rd::rd_kafka_CreateAcls(
            request.rk(),
            bindings.0.as_mut_ptr(),
            bindings.0.len(),
            request.options(),
            request.queue(),
        )
    };
    let event = request.wait()?;
    // SAFETY: the event answers our CreateAcls request.
    let result = unsafe { rd::rd_kafka_event_CreateAcls_result(event.ptr()) };
    if result.is_null() {
        return Err(unexpected(&request));
    }
    let mut count = 0usize;
    // SAFETY: result lives as long as event; count receives the array length.
    let results = unsafe { rd::rd_kafka_CreateAcls_result_acls(result, &mut count) };
    let mut failures = Vec::new();
    for (index, acl) in acls.iter().enumerate().take(count) {
        // SAFETY: index < count, the length librdkafka gave; the result lives with event.
        let error = unsafe { error_text(rd::rd_kafka_acl_result_error(*results.add(index))) };
        if let Some(why) = error {
            failures.push(format!("{acl}: {why}"));
        }
    }
    failures_to_result(&request, failures)
}

/// The ACLs of `principal` (`User:<name>`) on any resource.
pub fn describe_acls(
    admin: &Admin,
    principal: &str,
    timeout: Duration,
) -> Result<Vec<LiveAcl>, Error> {
    let principal_c = c_string("principal", principal)?;
    let mut errstr = ErrStr::new();
    // SAFETY: principal_c is NUL-terminated and outlives the call; null name and host
    // match any; errstr is writable with the size given.
    let filter = unsafe {
        rd::rd_kafka_AclBindingFilter_new(
            Res::RD_KAFKA_RESOURCE_ANY,
            std::ptr::null(),
            Pattern::RD_KAFKA_RESOURCE_PATTERN_ANY,
            principal_c.as_ptr(),
            std::ptr::null(),
            Op::RD_KAFKA_ACL_OPERATION_ANY,
            Perm::RD_KAFKA_ACL_PERMISSION_TYPE_ANY,
            errstr.ptr(),
            errstr.len(),
        )
    };
    if filter.is_null() {
        return Err(Error::Admin {
            what: format!("a filter for the ACLs of `{principal}`"),
            message: errstr.message(),
        });
    }
    let filter = Bindings(vec![filter]);
    let op = rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DESCRIBEACLS;
    let request = Request::new(
        admin,
        op,
        timeout,
        format!("describing the ACLs of `{principal}`"),
    )?;
    // SAFETY: the filter is live for the call (librdkafka copies it); the request's
    // handle, options and queue are live.
    unsafe {
        rd::rd_kafka_DescribeAcls(
            request.rk(),
            filter.0[0],
            request.options(),
            request.queue(),
        )
    };
    let event = request.wait()?;
    // SAFETY: the event answers our DescribeAcls request.
    let result = unsafe { rd::rd_kafka_event_DescribeAcls_result(event.ptr()) };
    if result.is_null() {
        return Err(unexpected(&request));
    }
    let mut count = 0usize;
    // SAFETY: result lives as long as event; count receives the array length.
    let acls = unsafe { rd::rd_kafka_DescribeAcls_result_acls(result, &mut count) };
    let mut found: Vec<LiveAcl> = (0..count)
        // SAFETY: index < count; each binding lives as long as event.
        .map(|index| unsafe { live(*acls.add(index)) })
        .collect();
    found.sort();
    Ok(found)
}

/// Deletes exactly `acls` (each must match a whole ACL: no empty name or host), and
/// returns the ACLs the broker deleted.
pub fn delete_acls(
    admin: &Admin,
    acls: &[LiveAcl],
    timeout: Duration,
) -> Result<Vec<LiveAcl>, Error> {
    if acls.is_empty() {
        return Ok(Vec::new());
    }
    let mut filters = Bindings(Vec::with_capacity(acls.len()));
    for acl in acls {
        filters.0.push(native(acl, true)?);
    }
    let op = rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DELETEACLS;
    let request = Request::new(admin, op, timeout, format!("deleting {} ACLs", acls.len()))?;
    // SAFETY: the filter array is valid for the call (librdkafka copies the filters); the
    // request's handle, options and queue are live.
    unsafe {
        rd::rd_kafka_DeleteAcls(
            request.rk(),
            filters.0.as_mut_ptr(),
            filters.0.len(),
            request.options(),
            request.queue(),
        )
    };
    let event = request.wait()?;
    // SAFETY: the event answers our DeleteAcls request.
    let result = unsafe { rd::rd_kafka_event_DeleteAcls_result(event.ptr()) };
    if result.is_null() {
        return Err(unexpected(&request));
    }
    let mut count = 0usize;
    // SAFETY: result lives as long as event; count receives the array length.
    let responses = unsafe { rd::rd_kafka_DeleteAcls_result_responses(result, &mut count) };
    let (mut deleted, mut failures) = (Vec::new(), Vec::new());
    for (index, acl) in acls.iter().enumerate().take(count) {
        // SAFETY: index < count; each response lives as long as event.
        let response = unsafe { *responses.add(index) };
        // SAFETY: response is live.
        if let Some(why) =
            unsafe { error_text(rd::rd_kafka_DeleteAcls_result_response_error(response)) }
        {
            failures.push(format!("{acl}: {why}"));
            continue;
        }
        let mut matching = 0usize;
        // SAFETY: response is live; matching receives the array length.
        let matched = unsafe {
            rd::rd_kafka_DeleteAcls_result_response_matching_acls(response, &mut matching)
        };
        // SAFETY: i < matching; each binding lives as long as event.
        deleted.extend((0..matching).map(|i| unsafe { live(*matched.add(i)) }));
    }
    failures_to_result(&request, failures)?;
    deleted.sort();
    Ok(deleted)
}

fn unexpected(request: &Request<'_>) -> Error {
    Error::Admin {
        what: request.what().to_string(),
        message: "librdkafka answered with an event of another kind".into(),
    }
}

fn failures_to_result(request: &Request<'_>, failures: Vec<String>) -> Result<(), Error> {
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Error::Admin {
            what: request.what().to_string(),
            message: failures.join("; "),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_declared_binding_round_trips_through_live_acl() {
        let acl = AclBinding {
            principal: "User:alice".into(),
            resource_type: ResourceType::Group,
            resource_name: "alice".into(),
            pattern_type: PatternType::Prefixed,
            operation: AclOperation::Describe,
        };
        let live = LiveAcl::from(&acl);
        assert_eq!(live.binding(), Some(acl));
        assert!(native(&live, false).is_ok_and(|b| {
            drop(Bindings(vec![b]));
            true
        }));
    }

    #[test]
    fn acls_a_topology_cannot_declare_have_no_binding() {
        let mut live = LiveAcl::from(&AclBinding {
            principal: "User:bob".into(),
            resource_type: ResourceType::Topic,
            resource_name: "orders".into(),
            pattern_type: PatternType::Literal,
            operation: AclOperation::Read,
        });
        live.permission = "Deny".into();
        assert_eq!(live.binding(), None);
        live.permission = "Allow".into();
        live.operation = "All".into();
        assert_eq!(live.binding(), None);
        live.operation = "Sudo".into();
        let err = native(&live, false).err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("`Sudo`") && e.contains("`Read`")));
    }
}
