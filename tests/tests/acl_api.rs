//! The safe wrapper over librdkafka's CreateAcls, DescribeAcls and DeleteAcls, against the
//! real broker (its StandardAuthorizer stores what we send), as the super user.

use std::time::Duration;

use kafka_utils::acl::{self, AdminClient, LiveAcl};
use kafka_utils::topology::{AclBinding, AclOperation, PatternType, ResourceType};
use kafka_utils_tests::TestCluster;

const TIMEOUT: Duration = Duration::from_secs(30);
/// A principal no other test uses (an ACL may name any principal).
const PRINCIPAL: &str = "User:acl-api-test";

fn binding(
    resource_type: ResourceType,
    name: &str,
    pattern_type: PatternType,
    operation: AclOperation,
) -> AclBinding {
    AclBinding {
        principal: PRINCIPAL.into(),
        resource_type,
        resource_name: name.into(),
        pattern_type,
        operation,
    }
}

/// The principal's ACLs once they equal `expected`: the broker's authorizer applies a
/// committed change a moment after the controller answered.
fn described_as(admin: &AdminClient, expected: &[LiveAcl]) -> Vec<LiveAcl> {
    let mut described = Vec::new();
    for _ in 0..100 {
        described = acl::describe_acls(admin, PRINCIPAL, TIMEOUT).unwrap();
        if described == expected {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    described
}

fn clean(admin: &AdminClient) {
    let left = acl::describe_acls(admin, PRINCIPAL, TIMEOUT).unwrap();
    acl::delete_acls(admin, &left, TIMEOUT).unwrap();
    assert_eq!(described_as(admin, &[]), []);
}

#[test]
fn create_describe_delete_round_trip() {
    let admin = acl::admin_client(&TestCluster::get().settings()).unwrap();
    clean(&admin);
    let acls = vec![
        binding(
            ResourceType::Topic,
            "acl-api.orders",
            PatternType::Literal,
            AclOperation::Read,
        ),
        binding(
            ResourceType::Topic,
            "acl-api.orders",
            PatternType::Literal,
            AclOperation::Describe,
        ),
        binding(
            ResourceType::Group,
            "acl-api-",
            PatternType::Prefixed,
            AclOperation::Read,
        ),
    ];
    acl::create_acls(&admin, &acls, TIMEOUT).unwrap();
    // Creating again is not an error and adds nothing.
    acl::create_acls(&admin, &acls, TIMEOUT).unwrap();

    let mut expected: Vec<LiveAcl> = acls.iter().map(LiveAcl::from).collect();
    expected.sort();
    let described = described_as(&admin, &expected);
    assert_eq!(described, expected);
    assert!(
        described
            .iter()
            .all(|a| a.host == "*" && a.permission == "Allow")
    );
    let bindings: Vec<AclBinding> = described.iter().filter_map(LiveAcl::binding).collect();
    assert_eq!(bindings.len(), 3);

    // Deleting exactly one leaves the others.
    let deleted = acl::delete_acls(&admin, &described[..1], TIMEOUT).unwrap();
    assert_eq!(deleted, described[..1]);
    assert_eq!(described_as(&admin, &described[1..]), described[1..]);
    // Deleting what is gone matches nothing.
    assert!(
        acl::delete_acls(&admin, &described[..1], TIMEOUT)
            .unwrap()
            .is_empty()
    );
    clean(&admin);
}

#[test]
fn refusals_name_what_was_refused() {
    let admin = acl::admin_client(&TestCluster::get().settings()).unwrap();
    let mut nameless = binding(
        ResourceType::Topic,
        "acl-api.x",
        PatternType::Literal,
        AclOperation::Write,
    );
    nameless.principal = "acl-api-test".into(); // no `User:` prefix
    let err = acl::create_acls(&admin, &[nameless], TIMEOUT)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("creating 1 ACLs") && err.contains("acl-api.x"),
        "{err}"
    );

    let err = acl::describe_acls(&admin, "User:a\0b", TIMEOUT)
        .unwrap_err()
        .to_string();
    assert!(err.contains("NUL"), "{err}");

    // A cluster that does not answer: the error says what was asked and how long we waited.
    let settings = kafka_utils::settings::Settings::new("127.0.0.1:9");
    let nowhere = acl::admin_client(&settings).unwrap();
    let err = acl::describe_acls(&nowhere, PRINCIPAL, Duration::from_millis(500))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("describing the ACLs of `User:acl-api-test`"),
        "{err}"
    );
}
