//! `Plan::diff` on made-up cluster snapshots: what is compared, what is left alone.

use std::collections::BTreeMap;

use kafka_utils::acl::LiveAcl;
use kafka_utils::admin::{Live, LiveTopic, Plan};
use kafka_utils::prelude::*;

#[derive(Debug, KafkaTopics)]
pub enum Topics {
    #[topic(name = "orders", message = String, partitions = 6, replication_factor = 3,
            config(retention = "7d", cleanup_policy = "compact,delete"))]
    Orders,
    #[topic(name = "events", message = String)]
    Events,
}

#[derive(Debug, KafkaUsers)]
pub enum Users {
    #[user(name = "shop", groups = ["shop"])]
    Shop,
}

permissions! { Users::Shop => { Topics::Orders => [Read, Write, AutoCommitOffset] } }

fn orders(partitions: i32, replication_factor: i16, configs: &[(&str, &str)]) -> LiveTopic {
    LiveTopic {
        partitions,
        replication_factor,
        configs: configs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

fn live(topics: Vec<(&str, LiveTopic)>, acls: Vec<LiveAcl>) -> Live {
    Live {
        topics: topics
            .into_iter()
            .map(|(n, t)| (n.to_string(), t))
            .collect::<BTreeMap<_, _>>(),
        acls,
    }
}

fn granted() -> Vec<LiveAcl> {
    TOPOLOGY.acl_bindings().iter().map(LiveAcl::from).collect()
}

const IN_SYNC: &[(&str, &str)] = &[
    ("retention.ms", "604800000"),
    // The same list in another order is the same value.
    ("cleanup.policy", "delete,compact"),
    // Not declared: never compared.
    ("segment.bytes", "1"),
];

#[test]
fn an_empty_cluster_needs_every_topic_and_acl() {
    let plan = Plan::diff(&TOPOLOGY, &Live::default());
    assert_eq!(plan.create_topics.len(), 2);
    assert_eq!(plan.create_topics[1].partitions, None);
    assert_eq!(plan.add_acls, TOPOLOGY.acl_bindings());
    assert!(plan.has_changes(false));
    let text = plan.to_string();
    assert!(
        text.contains("+ create topic `events`: partitions broker default"),
        "{text}"
    );
}

#[test]
fn a_matching_cluster_gives_an_empty_plan() {
    let cluster = live(
        vec![
            ("orders", orders(6, 3, IN_SYNC)),
            ("events", orders(1, 1, &[])),
        ],
        granted(),
    );
    let plan = Plan::diff(&TOPOLOGY, &cluster);
    assert!(plan.is_empty(), "{plan}");
    assert_eq!(
        plan.to_string(),
        "No changes: the cluster matches the declared topology.\n"
    );
}

#[test]
fn drift_is_listed_and_what_kafka_cannot_do_is_only_reported() {
    let mut acls = granted();
    acls.remove(0);
    let mut extra = acls[0].clone();
    extra.permission = "Deny".into();
    acls.push(extra.clone());
    let cluster = live(
        vec![
            ("orders", orders(12, 1, &[("retention.ms", "1000")])),
            ("events", orders(1, 1, &[])),
        ],
        acls,
    );
    let plan = Plan::diff(&TOPOLOGY, &cluster);
    let drift: Vec<(&str, Option<&str>)> = plan
        .alter_configs
        .iter()
        .map(|c| (c.key.as_str(), c.actual.as_deref()))
        .collect();
    assert_eq!(
        drift,
        [("cleanup.policy", None), ("retention.ms", Some("1000"))]
    );
    let unfixable: Vec<(&str, i64, i64)> = plan
        .unfixable
        .iter()
        .map(|u| (u.what.as_str(), u.desired, u.actual))
        .collect();
    assert_eq!(
        unfixable,
        [("partitions", 6, 12), ("replication_factor", 3, 1)]
    );
    assert_eq!(plan.add_acls, [TOPOLOGY.acl_bindings()[0].clone()]);
    assert_eq!(plan.remove_acls, [extra]);
    assert!(plan.has_changes(false));
    let json = serde_json::to_value(&plan).unwrap();
    assert_eq!(
        json["unfixable"][0]["why"]
            .as_str()
            .map(|w| w.contains("cannot remove")),
        Some(true)
    );
}

#[test]
fn fewer_partitions_than_declared_are_added() {
    let cluster = live(
        vec![
            ("orders", orders(2, 3, IN_SYNC)),
            ("events", orders(1, 1, &[])),
        ],
        granted(),
    );
    let plan = Plan::diff(&TOPOLOGY, &cluster);
    assert_eq!(plan.add_partitions.len(), 1);
    assert_eq!(
        (plan.add_partitions[0].from, plan.add_partitions[0].to),
        (2, 6)
    );
    assert!(
        plan.to_string()
            .contains("+ add partitions to `orders`: 2 -> 6")
    );
}
