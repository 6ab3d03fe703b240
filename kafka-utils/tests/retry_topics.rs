//! The retry topics a declaration derives (`retry = [...]` in `#[topic(...)]`): their names,
//! specs and the ACLs of who consumes the topic, as the topology, its table and the AsyncAPI
//! document show them.

use std::collections::BTreeSet;

use kafka_utils::admin::TopologyTable;
use kafka_utils::prelude::*;
use kafka_utils::topology::{AclOperation, PatternType, ResourceType, RetryOf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, KafkaTopics)]
pub enum Topics {
    /// Orders as the shop takes them.
    #[topic(name = "orders", message = String, key = u64, partitions = 6, replication_factor = 3,
            config(min_insync_replicas = 2, retention_ms = 3_600_000),
            retry = ["10s", "1m", "5d"], dead_letter = OrdersDlq)]
    Orders,
    #[topic(name = "orders.dlq", message = String)]
    OrdersDlq,
    #[topic(name = "payments", message = u64)]
    Payments,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, KafkaUsers)]
pub enum Users {
    #[user(name = "shop", groups = ["shop"])]
    Shop,
    #[user(name = "intake")]
    Intake,
}

permissions! {
    Users::Shop => {
        Topics::Orders => [Read, AutoCommitOffset],
        Topics::OrdersDlq => [Write],
        Topics::Payments => [Read, AutoCommitOffset],
    },
    Users::Intake => { Topics::Orders => [Write] },
}

#[test]
fn each_delay_derives_a_retry_topic_named_by_the_rule_after_its_topic() {
    let names: Vec<&str> = TOPOLOGY.topics().map(|t| t.name).collect();
    assert_eq!(
        names,
        [
            "orders",
            "orders.retry.10s",
            "orders.retry.1m",
            "orders.retry.5d",
            "orders.dlq",
            "payments"
        ]
    );
    let orders = Topics::Orders.spec();
    assert_eq!(orders.retry_of, None);
    let retries: Vec<&str> = orders.retry_topics.iter().map(|t| t.name).collect();
    assert_eq!(
        retries,
        ["orders.retry.10s", "orders.retry.1m", "orders.retry.5d"]
    );
    assert!(Topics::Payments.spec().retry_topics.is_empty());
}

#[test]
fn a_retry_topic_is_shaped_like_its_topic_and_keeps_its_records_well_past_its_delay() {
    let [first, second, last] = Topics::Orders.spec().retry_topics else {
        panic!("three retry topics");
    };
    assert_eq!(
        first.retry_of,
        Some(RetryOf {
            origin: "orders",
            step: 1,
            delay_ms: 10_000
        })
    );
    assert_eq!(
        second.retry_of.map(|r| (r.step, r.delay_ms)),
        Some((2, 60_000))
    );
    assert_eq!(
        last.retry_of.map(|r| (r.step, r.delay_ms)),
        Some((3, 432_000_000))
    );
    for retry in [first, second] {
        assert_eq!(retry.partitions, Some(6));
        assert_eq!(retry.replication_factor, Some(3));
        assert_eq!(retry.message_type, "String");
        assert_eq!(retry.key_type, Some("u64"));
        assert_eq!(retry.dead_letter, Some("orders.dlq"));
        assert!(retry.retry_topics.is_empty());
        // The origin's min.insync.replicas, not its (short) retention: a week at least.
        assert_eq!(
            retry.configs,
            [("min.insync.replicas", "2"), ("retention.ms", "604800000")]
        );
    }
    // Ten times a delay longer than 16.8 hours.
    assert_eq!(last.config("retention.ms"), Some("4320000000"));
}

#[test]
fn who_reads_a_topic_may_read_and_write_its_retry_topics_and_nobody_else() {
    let acls = TOPOLOGY.acl_bindings();
    let on = |topic: &str| -> BTreeSet<(String, AclOperation)> {
        acls.iter()
            .filter(|a| a.resource_type == ResourceType::Topic && a.resource_name == topic)
            .inspect(|a| assert_eq!(a.pattern_type, PatternType::Literal))
            .map(|a| (a.principal.clone(), a.operation))
            .collect()
    };
    for retry in ["orders.retry.10s", "orders.retry.1m", "orders.retry.5d"] {
        let expected: BTreeSet<(String, AclOperation)> = [
            AclOperation::Read,
            AclOperation::Write,
            AclOperation::Describe,
        ]
        .into_iter()
        .map(|op| ("User:shop".to_string(), op))
        .collect();
        assert_eq!(on(retry), expected, "{retry}");
        assert!(TOPOLOGY.allows("shop", retry, Permission::Read));
        assert!(TOPOLOGY.allows("shop", retry, Permission::Write));
        assert!(!TOPOLOGY.allows("shop", retry, Permission::AutoCommitOffset));
        assert!(!TOPOLOGY.allows("intake", retry, Permission::Write));
    }
    // The producer of the topic gets nothing on them.
    assert!(
        acls.iter()
            .all(|a| a.principal != "User:intake" || a.resource_name == "orders")
    );
}

#[test]
fn the_topology_table_and_the_asyncapi_document_show_them() {
    let table = TopologyTable(&TOPOLOGY).to_string();
    assert!(
        table.contains("through `orders.retry.10s`, `orders.retry.1m`, `orders.retry.5d` |"),
        "{table}"
    );
    assert!(
        table.contains("| `orders.retry.1m` | 6 | 3 | min.insync.replicas=2, retention.ms=604800000 | `String` | `u64` | retries `orders` after 1m (step 2) |"),
        "{table}"
    );
    assert!(
        table.contains("| User:shop | Topic | `orders.retry.5d` | Literal | Write |"),
        "{table}"
    );
    let document = kafka_utils::asyncapi::document(
        &TOPOLOGY,
        &kafka_utils::settings::Settings::default(),
        &kafka_utils::asyncapi::Info::new("Shop", "1.0.0"),
    );
    let channel = &document["channels"]["orders.retry.10s"];
    assert_eq!(channel["address"], "orders.retry.10s");
    assert_eq!(
        channel["x-kafka-utils-retry-of"]["channel"]["$ref"],
        "#/channels/orders"
    );
    assert_eq!(channel["x-kafka-utils-retry-of"]["delayMs"], 10_000);
    assert_eq!(
        document["channels"]["orders"]["x-kafka-utils-retry-topics"][2]["$ref"],
        "#/channels/orders.retry.5d"
    );
    for action in ["send", "receive"] {
        let operation = &document["operations"][format!("shop.{action}.orders.retry.1m")];
        assert_eq!(operation["action"], action);
    }
}
