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
            "| topic | partitions | replication | configs | message | key |"
        )?;
        writeln!(f, "| --- | ---: | ---: | --- | --- | --- |")?;
        for t in self.0.topics() {
            let configs: Vec<String> = t.configs.iter().map(|(k, v)| format!("{k}={v}")).collect();
            writeln!(
                f,
                "| `{}` | {} | {} | {} | `{}` | {} |",
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

#[derive(Debug, Serialize)]
pub(crate) struct TopicView {
    name: &'static str,
    partitions: Option<i32>,
    replication_factor: Option<i16>,
    configs: &'static [(&'static str, &'static str)],
    message_type: &'static str,
    key_type: Option<&'static str>,
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
