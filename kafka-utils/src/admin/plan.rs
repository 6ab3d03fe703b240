//! The plan: what differs between the declared topology and the live cluster, as a value.
//!
//! [`Plan::diff`] is pure: it compares a [`Topology`] with a [`Live`] snapshot of the
//! cluster (read by [`super::KafkaAdmin::plan`]). Topics the topology does not declare are
//! never in a plan; ACLs are compared for the declared principals only.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

use crate::acl::LiveAcl;
use crate::topology::{AclBinding, Topology};

/// A topic as it exists on the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveTopic {
    /// Partition count.
    pub partitions: i32,
    /// Replicas of partition 0.
    pub replication_factor: i16,
    /// The topic's configs (every key the broker reports, defaults included).
    pub configs: BTreeMap<String, String>,
}

/// What the cluster holds of the declared things.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Live {
    /// The declared topics that exist, by name.
    pub topics: BTreeMap<String, LiveTopic>,
    /// The ACLs whose principal is a declared user.
    pub acls: Vec<LiveAcl>,
}

/// A topic to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopicCreation {
    /// The topic.
    pub topic: String,
    /// Partitions (`None`: the broker's default).
    pub partitions: Option<i32>,
    /// Replication factor (`None`: the broker's default).
    pub replication_factor: Option<i16>,
    /// Configs, as Kafka names them.
    pub configs: Vec<(String, String)>,
}

/// Partitions to add to a topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionIncrease {
    /// The topic.
    pub topic: String,
    /// The partitions it has.
    pub from: i32,
    /// The partitions declared.
    pub to: i32,
}

/// A topic config whose live value is not the declared one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigDrift {
    /// The topic.
    pub topic: String,
    /// The config, as Kafka names it (`retention.ms`).
    pub key: String,
    /// The declared value.
    pub desired: String,
    /// The live value (`None` when the broker does not report the key).
    pub actual: Option<String>,
}

/// A difference that applying cannot fix: reported, never applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unfixable {
    /// The topic.
    pub topic: String,
    /// `partitions` or `replication_factor`.
    pub what: String,
    /// The declared value.
    pub desired: i64,
    /// The live value.
    pub actual: i64,
    /// Why it is not applied.
    pub why: String,
}

/// What applying would change, and what it cannot. Print it with `{}` for people, or
/// serialize it (`serde_json::to_string(&plan)`) for tools.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// Declared topics that do not exist.
    pub create_topics: Vec<TopicCreation>,
    /// Topics with fewer partitions than declared.
    pub add_partitions: Vec<PartitionIncrease>,
    /// Declared configs whose live value differs.
    pub alter_configs: Vec<ConfigDrift>,
    /// Differences Kafka cannot apply in place (fewer partitions, another replication).
    pub unfixable: Vec<Unfixable>,
    /// ACLs the grants imply that the cluster lacks.
    pub add_acls: Vec<AclBinding>,
    /// ACLs of declared users that no grant implies (removed only when asked).
    pub remove_acls: Vec<LiveAcl>,
}

/// Whether two config values mean the same: lists (`compact,delete`) compare as sets.
fn same_value(desired: &str, actual: &str) -> bool {
    let items = |s: &str| -> BTreeSet<String> {
        s.split(',')
            .map(|i| i.trim().to_string())
            .filter(|i| !i.is_empty())
            .collect()
    };
    desired.trim() == actual.trim() || items(desired) == items(actual)
}

impl Plan {
    /// The plan that takes `live` to `topology`.
    pub fn diff(topology: &Topology, live: &Live) -> Plan {
        let mut plan = Plan::default();
        for spec in topology.topics() {
            let Some(topic) = live.topics.get(spec.name) else {
                plan.create_topics.push(TopicCreation {
                    topic: spec.name.to_string(),
                    partitions: spec.partitions,
                    replication_factor: spec.replication_factor,
                    configs: spec
                        .configs
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                });
                continue;
            };
            if let Some(desired) = spec.partitions {
                if desired > topic.partitions {
                    plan.add_partitions.push(PartitionIncrease {
                        topic: spec.name.into(),
                        from: topic.partitions,
                        to: desired,
                    });
                } else if desired < topic.partitions {
                    plan.unfixable.push(Unfixable {
                        topic: spec.name.into(),
                        what: "partitions".into(),
                        desired: desired.into(),
                        actual: topic.partitions.into(),
                        why: "Kafka cannot remove partitions; recreate the topic to shrink it"
                            .into(),
                    });
                }
            }
            if let Some(desired) = spec.replication_factor
                && desired != topic.replication_factor
            {
                plan.unfixable.push(Unfixable {
                    topic: spec.name.into(),
                    what: "replication_factor".into(),
                    desired: desired.into(),
                    actual: topic.replication_factor.into(),
                    why: "changing it needs a partition reassignment (kafka-reassign-partitions)"
                        .into(),
                });
            }
            for (key, desired) in spec.configs {
                let actual = topic.configs.get(*key);
                if !actual.is_some_and(|a| same_value(desired, a)) {
                    plan.alter_configs.push(ConfigDrift {
                        topic: spec.name.into(),
                        key: key.to_string(),
                        desired: desired.to_string(),
                        actual: actual.cloned(),
                    });
                }
            }
        }
        let desired: BTreeSet<AclBinding> = topology.acl_bindings().into_iter().collect();
        let present: BTreeSet<AclBinding> = live.acls.iter().filter_map(LiveAcl::binding).collect();
        plan.add_acls = desired.difference(&present).cloned().collect();
        plan.remove_acls = live
            .acls
            .iter()
            .filter(|acl| !acl.binding().is_some_and(|b| desired.contains(&b)))
            .cloned()
            .collect();
        plan
    }

    /// Whether applying would change anything (removing ACLs counts only when
    /// `with_acl_removal`).
    pub fn has_changes(&self, with_acl_removal: bool) -> bool {
        !self.create_topics.is_empty()
            || !self.add_partitions.is_empty()
            || !self.alter_configs.is_empty()
            || !self.add_acls.is_empty()
            || (with_acl_removal && !self.remove_acls.is_empty())
    }

    /// Whether the cluster matches the topology in every respect.
    pub fn is_empty(&self) -> bool {
        !self.has_changes(true) && self.unfixable.is_empty()
    }
}

fn configs_text(configs: &[(String, String)]) -> String {
    configs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn or_default<T: fmt::Display>(value: Option<T>) -> String {
    value.map_or_else(|| "broker default".to_string(), |v| v.to_string())
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return writeln!(f, "No changes: the cluster matches the declared topology.");
        }
        for t in &self.create_topics {
            write!(
                f,
                "+ create topic `{}`: partitions {}, replication factor {}",
                t.topic,
                or_default(t.partitions),
                or_default(t.replication_factor)
            )?;
            if !t.configs.is_empty() {
                write!(f, ", {}", configs_text(&t.configs))?;
            }
            writeln!(f)?;
        }
        for p in &self.add_partitions {
            writeln!(
                f,
                "+ add partitions to `{}`: {} -> {}",
                p.topic, p.from, p.to
            )?;
        }
        for c in &self.alter_configs {
            let actual = c.actual.as_deref().unwrap_or("(not reported)");
            writeln!(
                f,
                "~ set `{}` on `{}`: {actual} -> {}",
                c.key, c.topic, c.desired
            )?;
        }
        for acl in &self.add_acls {
            writeln!(f, "+ create ACL: {acl}")?;
        }
        for acl in &self.remove_acls {
            writeln!(f, "- remove ACL: {acl} (only with --allow-acl-removal)")?;
        }
        for u in &self.unfixable {
            writeln!(
                f,
                "! `{}` {}: declared {}, actual {}; not applied: {}",
                u.topic, u.what, u.desired, u.actual, u.why
            )?;
        }
        writeln!(
            f,
            "Plan: {} topics to create, {} to grow, {} configs to set, {} ACLs to create, {} ACLs to remove, {} differences not applicable.",
            self.create_topics.len(),
            self.add_partitions.len(),
            self.alter_configs.len(),
            self.add_acls.len(),
            self.remove_acls.len(),
            self.unfixable.len()
        )
    }
}
