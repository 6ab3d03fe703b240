//! The declared topology as text (for `topology`) and as JSON.

use std::fmt;

use serde::Serialize;

use crate::topology::{AclBinding, Topology};

/// The declared topics and the ACLs their grants imply, as Markdown tables.
///
/// ```
/// use kafka_utils::prelude::*;
/// use kafka_utils::admin::TopologyTable;
///
/// #[derive(KafkaTopics)]
/// pub enum Topics { #[topic(name = "orders", message = String, partitions = 3)] Orders }
/// #[derive(KafkaUsers)]
/// pub enum Users { #[user(name = "shop")] Shop }
/// permissions! { Users::Shop => { Topics::Orders => [Write] } }
///
/// let text = TopologyTable(&TOPOLOGY).to_string();
/// assert!(text.contains("| `orders` | 3 |"));
/// assert!(text.contains("| User:shop | Topic | `orders` | Literal | Write |"));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct TopologyTable(pub &'static Topology);

impl fmt::Display for TopologyTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let or_default = |v: Option<String>| v.unwrap_or_else(|| "default".into());
        writeln!(
            f,
            "| topic | partitions | replication | configs | message | key | retry |"
        )?;
        writeln!(f, "| --- | ---: | ---: | --- | --- | --- | --- |")?;
        for t in self.0.topics() {
            let configs: Vec<String> = t.configs.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let retry = match (t.retry_of, t.retry_topics) {
                (Some(of), _) => format!(
                    "retries `{}` after {} (step {})",
                    of.origin,
                    delay_text(of.delay_ms),
                    of.step
                ),
                (None, []) => "-".to_string(),
                (None, topics) => {
                    let names: Vec<String> =
                        topics.iter().map(|r| format!("`{}`", r.name)).collect();
                    format!("through {}", names.join(", "))
                }
            };
            writeln!(
                f,
                "| `{}` | {} | {} | {} | `{}` | {} | {retry} |",
                t.name,
                or_default(t.partitions.map(|p| p.to_string())),
                or_default(t.replication_factor.map(|r| r.to_string())),
                configs.join(", "),
                t.message_type,
                t.key_type.map_or("-".to_string(), |k| format!("`{k}`")),
            )?;
        }
        writeln!(f)?;
        writeln!(f, "| principal | resource | name | pattern | operation |")?;
        writeln!(f, "| --- | --- | --- | --- | --- |")?;
        for acl in self.0.acl_bindings() {
            writeln!(
                f,
                "| {} | {:?} | `{}` | {:?} | {:?} |",
                acl.principal,
                acl.resource_type,
                acl.resource_name,
                acl.pattern_type,
                acl.operation
            )?;
        }
        Ok(())
    }
}

/// A delay in milliseconds in its largest whole unit: `10s`, `1m`, `1500ms`.
pub(crate) fn delay_text(ms: u64) -> String {
    const UNITS: [(u64, &str); 4] = [
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "m"),
        (1_000, "s"),
    ];
    UNITS
        .iter()
        .find(|(unit, _)| ms >= *unit && ms.is_multiple_of(*unit))
        .map_or_else(
            || format!("{ms}ms"),
            |(unit, name)| format!("{}{name}", ms / unit),
        )
}

#[derive(Debug, Serialize)]
pub(crate) struct TopicView {
    name: &'static str,
    partitions: Option<i32>,
    replication_factor: Option<i16>,
    configs: &'static [(&'static str, &'static str)],
    message_type: &'static str,
    key_type: Option<&'static str>,
    /// The names of its retry topics, in order.
    retry_topics: Vec<&'static str>,
    /// For a retry topic: what it retries, and after how long.
    retry_of: Option<RetryOfView>,
}

#[derive(Debug, Serialize)]
pub(crate) struct RetryOfView {
    origin: &'static str,
    step: u32,
    delay_ms: u64,
}

#[derive(Debug, Serialize)]
pub(crate) struct UserView {
    name: &'static str,
    groups: &'static [&'static str],
}

/// The topology as JSON tools read it.
#[derive(Debug, Serialize)]
pub(crate) struct TopologyView {
    topics: Vec<TopicView>,
    users: Vec<UserView>,
    acls: Vec<AclBinding>,
}

pub(crate) fn topology_view(topology: &'static Topology) -> TopologyView {
    TopologyView {
        topics: topology
            .topics()
            .map(|t| TopicView {
                name: t.name,
                partitions: t.partitions,
                replication_factor: t.replication_factor,
                configs: t.configs,
                message_type: t.message_type,
                key_type: t.key_type,
                retry_topics: t.retry_topics.iter().map(|r| r.name).collect(),
                retry_of: t.retry_of.map(|of| RetryOfView {
                    origin: of.origin,
                    step: of.step,
                    delay_ms: of.delay_ms,
                }),
            })
            .collect(),
        users: topology
            .users()
            .map(|u| UserView {
                name: u.name,
                groups: u.groups,
            })
            .collect(),
        acls: topology.acl_bindings(),
    }
}
