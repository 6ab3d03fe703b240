//! The ACL bindings a topology implies are exactly those of the permission table:
//! Read = topic READ + DESCRIBE; Write = topic WRITE + DESCRIBE; AutoCommitOffset = group
//! READ + DESCRIBE on each declared group, or on the user-name prefix when none is declared.

use std::collections::BTreeSet;

use kafka_utils::prelude::*;
use kafka_utils::topology::{AclBinding, AclOperation, PatternType, ResourceType};

#[derive(Debug, Clone, Copy, PartialEq, Eq, KafkaTopics)]
pub enum Topics {
    #[topic(name = "orders", message = String, partitions = 6)]
    Orders,
    #[topic(name = "payments", message = u64)]
    Payments,
    #[topic(name = "audit.log", message = String, config(cleanup_policy = "compact"))]
    AuditLog,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, KafkaUsers)]
pub enum Users {
    #[user(name = "shop", groups = ["shop-orders", "shop-replay"])]
    Shop,
    #[user(name = "billing", groups = ["billing"])]
    Billing,
    #[user(name = "auditor")]
    Auditor,
    #[user(name = "intake")]
    Intake,
}

permissions! {
    Users::Shop => {
        Topics::Orders => [Read, Write, AutoCommitOffset],
        Topics::Payments => [Read],
    },
    Users::Billing => {
        Topics::Orders => [Read, AutoCommitOffset],
        Topics::Payments => [Write],
    },
    Users::Auditor => {
        Topics::Orders => [Read, AutoCommitOffset],
        Topics::Payments => [Read, AutoCommitOffset],
        Topics::AuditLog => [Read, Write],
    },
    Users::Intake => { Topics::Orders => [Write] },
}

fn acl(
    user: &str,
    resource_type: ResourceType,
    name: &str,
    pattern_type: PatternType,
    operation: AclOperation,
) -> AclBinding {
    AclBinding {
        principal: format!("User:{user}"),
        resource_type,
        resource_name: name.to_string(),
        pattern_type,
        operation,
    }
}

#[test]
fn acl_bindings_follow_the_permission_table() {
    use AclOperation::{Describe, Read, Write};
    use PatternType::{Literal, Prefixed};
    use ResourceType::{Group, Topic};
    let expected: BTreeSet<AclBinding> = [
        // shop: orders Read+Write+Commit, payments Read; two declared groups.
        acl("shop", Topic, "orders", Literal, Read),
        acl("shop", Topic, "orders", Literal, Write),
        acl("shop", Topic, "orders", Literal, Describe),
        acl("shop", Topic, "payments", Literal, Read),
        acl("shop", Topic, "payments", Literal, Describe),
        acl("shop", Group, "shop-orders", Literal, Read),
        acl("shop", Group, "shop-orders", Literal, Describe),
        acl("shop", Group, "shop-replay", Literal, Read),
        acl("shop", Group, "shop-replay", Literal, Describe),
        // billing: orders Read+Commit, payments Write; one group.
        acl("billing", Topic, "orders", Literal, Read),
        acl("billing", Topic, "orders", Literal, Describe),
        acl("billing", Topic, "payments", Literal, Write),
        acl("billing", Topic, "payments", Literal, Describe),
        acl("billing", Group, "billing", Literal, Read),
        acl("billing", Group, "billing", Literal, Describe),
        // auditor: no declared group, so its groups are the prefix `auditor`.
        acl("auditor", Topic, "orders", Literal, Read),
        acl("auditor", Topic, "orders", Literal, Describe),
        acl("auditor", Topic, "payments", Literal, Read),
        acl("auditor", Topic, "payments", Literal, Describe),
        acl("auditor", Topic, "audit.log", Literal, Read),
        acl("auditor", Topic, "audit.log", Literal, Write),
        acl("auditor", Topic, "audit.log", Literal, Describe),
        acl("auditor", Group, "auditor", Prefixed, Read),
        acl("auditor", Group, "auditor", Prefixed, Describe),
        // intake: write only, no group ACL at all.
        acl("intake", Topic, "orders", Literal, Write),
        acl("intake", Topic, "orders", Literal, Describe),
    ]
    .into_iter()
    .collect();

    let actual = TOPOLOGY.acl_bindings();
    let actual_set: BTreeSet<AclBinding> = actual.iter().cloned().collect();
    assert_eq!(actual.len(), actual_set.len(), "no duplicates");
    let missing: Vec<_> = expected.difference(&actual_set).collect();
    let extra: Vec<_> = actual_set.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:#?}\nextra {extra:#?}"
    );
    assert!(actual.windows(2).all(|w| w[0] < w[1]), "sorted");
}

#[test]
fn topology_lists_what_was_declared() {
    let topics: Vec<&str> = TOPOLOGY.topics().map(|t| t.name).collect();
    assert_eq!(topics, ["orders", "payments", "audit.log"]);
    let users: Vec<&str> = TOPOLOGY.users().map(|u| u.name).collect();
    assert_eq!(users, ["shop", "billing", "auditor", "intake"]);
    assert_eq!(TOPOLOGY.grants.len(), 8);
    assert_eq!(TOPOLOGY.topic("orders").and_then(|t| t.partitions), Some(6));
    assert_eq!(
        TOPOLOGY.user("shop").map(|u| u.groups),
        Some(&["shop-orders", "shop-replay"][..])
    );
    assert!(TOPOLOGY.allows("intake", "orders", Permission::Write));
    assert!(!TOPOLOGY.allows("intake", "orders", Permission::Read));
    assert!(!TOPOLOGY.allows("nobody", "orders", Permission::Read));
    assert_eq!(
        TOPOLOGY
            .topic("audit.log")
            .and_then(|t| t.config("cleanup.policy")),
        Some("compact")
    );
}

#[test]
fn enums_round_trip_through_their_names() {
    for topic in Topics::ALL {
        assert_eq!(topic.name().parse::<Topics>(), Ok(*topic));
        let json = serde_json::to_string(topic).unwrap();
        assert_eq!(serde_json::from_str::<Topics>(&json).unwrap(), *topic);
    }
    for user in Users::ALL {
        assert_eq!(user.to_string().parse::<Users>(), Ok(*user));
    }
    let err = "payment".parse::<Topics>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown topic `payment`; expected one of: `orders`, `payments`, `audit.log`"
    );
}
