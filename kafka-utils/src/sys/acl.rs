//! CreateAcls, DescribeAcls and DeleteAcls, which rust-rdkafka does not wrap; the public
//! API is [`crate::acl`].

use std::time::Duration;

use rdkafka::bindings as rd;
use rdkafka::bindings::rd_kafka_AclOperation_t as Op;
use rdkafka::bindings::rd_kafka_AclPermissionType_t as Perm;
use rdkafka::bindings::rd_kafka_ResourcePatternType_t as Pattern;
use rdkafka::bindings::rd_kafka_ResourceType_t as Res;

use super::{AdminClient, ErrStr, NativePtr, Request, answers, c_string, error_text, text};
use crate::Error;
use crate::acl::live::LiveAcl;
use crate::topology::AclBinding;

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

/// A native binding (`filter` false) or filter (`filter` true) for `acl`; in a filter an
/// empty `resource_name` or `host` matches any.
fn native(acl: &LiveAcl, filter: bool) -> Result<NativePtr<rd::rd_kafka_AclBinding_t>, Error> {
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
    // SAFETY: a binding librdkafka made is ours.
    unsafe { NativePtr::from_ptr(binding) }.ok_or_else(|| Error::Admin {
        what: format!("ACL `{acl}`"),
        message: errstr.message(),
    })
}

/// The pointers of `bindings`, as the calls take them (valid while `bindings` live).
fn pointers(
    bindings: &[NativePtr<rd::rd_kafka_AclBinding_t>],
) -> Vec<*mut rd::rd_kafka_AclBinding_t> {
    bindings.iter().map(NativePtr::ptr).collect()
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
pub(crate) fn create_acls(
    admin: &AdminClient,
    acls: &[AclBinding],
    timeout: Duration,
) -> Result<(), Error> {
    if acls.is_empty() {
        return Ok(());
    }
    let bindings = acls
        .iter()
        .map(|acl| native(&LiveAcl::from(acl), false))
        .collect::<Result<Vec<_>, _>>()?;
    let mut array = pointers(&bindings);
    let op = rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_CREATEACLS;
    let request = Request::new(admin, op, timeout, format!("creating {} ACLs", acls.len()))?;
    // SAFETY: the bindings array is valid for the call (librdkafka copies the bindings);
    // the request's handle, options and queue are live.
    unsafe {
        rd::rd_kafka_CreateAcls(
            request.rk(),
            array.as_mut_ptr(),
            array.len(),
            request.options(),
            request.queue(),
        )
    };
    let event = request.wait()?;
    // SAFETY: the event answers our CreateAcls request.
    let result = unsafe { rd::rd_kafka_event_CreateAcls_result(event.ptr()) };
    if result.is_null() {
        return Err(request.unexpected());
    }
    let mut count = 0usize;
    // SAFETY: result lives as long as event; count receives the array's length.
    let results = unsafe {
        answers(
            rd::rd_kafka_CreateAcls_result_acls(result, &mut count),
            count,
        )
    };
    let mut failures = Vec::new();
    for (acl, &answer) in acls.iter().zip(results) {
        // SAFETY: each result lives as long as event.
        let error = unsafe { error_text(rd::rd_kafka_acl_result_error(answer)) };
        if let Some(why) = error {
            failures.push(format!("{acl}: {why}"));
        }
    }
    failures_to_result(&request, failures)
}

/// The ACLs of `principal` (`User:<name>`) on any resource.
pub(crate) fn describe_acls(
    admin: &AdminClient,
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
    // SAFETY: a filter librdkafka made is ours.
    let filter = unsafe { NativePtr::from_ptr(filter) }.ok_or_else(|| Error::Admin {
        what: format!("a filter for the ACLs of `{principal}`"),
        message: errstr.message(),
    })?;
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
            filter.ptr(),
            request.options(),
            request.queue(),
        )
    };
    let event = request.wait()?;
    // SAFETY: the event answers our DescribeAcls request.
    let result = unsafe { rd::rd_kafka_event_DescribeAcls_result(event.ptr()) };
    if result.is_null() {
        return Err(request.unexpected());
    }
    let mut count = 0usize;
    // SAFETY: result lives as long as event; count receives the array's length.
    let acls = unsafe {
        answers(
            rd::rd_kafka_DescribeAcls_result_acls(result, &mut count),
            count,
        )
    };
    let mut found: Vec<LiveAcl> = acls
        .iter()
        // SAFETY: each binding lives as long as event.
        .map(|&binding| unsafe { live(binding) })
        .collect();
    found.sort();
    Ok(found)
}

/// Deletes exactly `acls` (each must match a whole ACL: no empty name or host), and
/// returns the ACLs the broker deleted.
pub(crate) fn delete_acls(
    admin: &AdminClient,
    acls: &[LiveAcl],
    timeout: Duration,
) -> Result<Vec<LiveAcl>, Error> {
    if acls.is_empty() {
        return Ok(Vec::new());
    }
    let filters = acls
        .iter()
        .map(|acl| native(acl, true))
        .collect::<Result<Vec<_>, _>>()?;
    let mut array = pointers(&filters);
    let op = rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DELETEACLS;
    let request = Request::new(admin, op, timeout, format!("deleting {} ACLs", acls.len()))?;
    // SAFETY: the filter array is valid for the call (librdkafka copies the filters); the
    // request's handle, options and queue are live.
    unsafe {
        rd::rd_kafka_DeleteAcls(
            request.rk(),
            array.as_mut_ptr(),
            array.len(),
            request.options(),
            request.queue(),
        )
    };
    let event = request.wait()?;
    // SAFETY: the event answers our DeleteAcls request.
    let result = unsafe { rd::rd_kafka_event_DeleteAcls_result(event.ptr()) };
    if result.is_null() {
        return Err(request.unexpected());
    }
    let mut count = 0usize;
    // SAFETY: result lives as long as event; count receives the array's length.
    let responses = unsafe {
        answers(
            rd::rd_kafka_DeleteAcls_result_responses(result, &mut count),
            count,
        )
    };
    let (mut deleted, mut failures) = (Vec::new(), Vec::new());
    for (acl, &response) in acls.iter().zip(responses) {
        // SAFETY: each response lives as long as event.
        if let Some(why) =
            unsafe { error_text(rd::rd_kafka_DeleteAcls_result_response_error(response)) }
        {
            failures.push(format!("{acl}: {why}"));
            continue;
        }
        let mut matching = 0usize;
        // SAFETY: response is live; matching receives the array's length.
        let matched = unsafe {
            answers(
                rd::rd_kafka_DeleteAcls_result_response_matching_acls(response, &mut matching),
                matching,
            )
        };
        // SAFETY: each binding lives as long as event.
        deleted.extend(matched.iter().map(|&binding| unsafe { live(binding) }));
    }
    failures_to_result(&request, failures)?;
    deleted.sort();
    Ok(deleted)
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
    use crate::topology::{AclOperation, PatternType, ResourceType};

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
        assert!(native(&live, false).is_ok());
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
