//! The declared topology as the desired state of the cluster: plan, apply, drift.
//!
//! [`KafkaAdmin`] reads what the cluster holds of the declared topics and of the declared
//! users' ACLs, shows the difference as a [`Plan`], and applies it: it creates topics with
//! their configs, adds partitions, sets configs that drifted, creates the ACLs the grants
//! imply and (only when asked) removes the declared users' ACLs that no grant implies.
//! Topics the topology does not declare are never touched. Applying is idempotent and safe
//! from several instances at once. [`cli`] wraps it all in a command line.
//!
//! ```no_run
//! use kafka_utils::prelude::*;
//! use kafka_utils::admin::{ApplyOptions, KafkaAdmin};
//! use kafka_utils::settings::Settings;
//!
//! #[derive(KafkaTopics)]
//! pub enum Topics {
//!     #[topic(name = "orders", message = String, partitions = 6, config(retention = "7d"))]
//!     Orders,
//! }
//!
//! #[derive(KafkaUsers)]
//! pub enum Users {
//!     #[user(name = "shop", groups = ["shop"])]
//!     Shop,
//! }
//!
//! permissions! { Users::Shop => { Topics::Orders => [Read, Write, AutoCommitOffset] } }
//!
//! # #[tokio::main] async fn main() -> Result<(), kafka_utils::Error> {
//! let admin = KafkaAdmin::new(&Settings::from_env()?, &TOPOLOGY)?;
//! let plan = admin.plan().await?;
//! print!("{plan}");
//! let applied = admin.apply(&plan, ApplyOptions::default()).await?;
//! print!("{applied}");
//! assert!(!admin.plan().await?.has_changes(false));
//! # Ok(()) }
//! ```

pub mod cli;
mod cli_dlq;
mod dlq;
mod plan;
mod replay;
mod table;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::admin::{AdminOptions, NewPartitions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::types::RDKafkaErrorCode;
use serde::Serialize;

pub use self::plan::{
    ConfigDrift, Live, LiveTopic, PartitionIncrease, Plan, TopicCreation, Unfixable,
};
pub use self::replay::{MOST_REPLAYS, REPLAY_HEADER};
pub use self::table::TopologyTable;
pub(crate) use self::table::topology_view;
use crate::Error;
use crate::acl::{self, AdminClient, LiveAcl};
use crate::settings::Settings;
use crate::topology::{AclBinding, Topology};

/// What [`KafkaAdmin::apply`] may do beyond adding.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApplyOptions {
    /// Remove the declared users' ACLs that no grant implies (off by default).
    pub allow_acl_removal: bool,
}

/// What [`KafkaAdmin::apply`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Applied {
    /// Topics created.
    pub topics_created: Vec<String>,
    /// Topics to create that another instance created meanwhile.
    pub topics_existing: Vec<String>,
    /// Partitions added.
    pub partitions_added: Vec<PartitionIncrease>,
    /// Configs set.
    pub configs_set: Vec<ConfigDrift>,
    /// ACLs created.
    pub acls_created: Vec<AclBinding>,
    /// ACLs removed.
    pub acls_removed: Vec<LiveAcl>,
    /// ACL removals in the plan left alone (no `allow_acl_removal`).
    pub acl_removals_skipped: usize,
    /// The plan's differences that Kafka cannot apply, left as they are.
    pub not_applied: Vec<Unfixable>,
}

impl Applied {
    /// Whether nothing was changed.
    pub fn is_empty(&self) -> bool {
        self.topics_created.is_empty()
            && self.partitions_added.is_empty()
            && self.configs_set.is_empty()
            && self.acls_created.is_empty()
            && self.acls_removed.is_empty()
    }
}

impl fmt::Display for Applied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for topic in &self.topics_created {
            writeln!(f, "created topic `{topic}`")?;
        }
        for topic in &self.topics_existing {
            writeln!(f, "topic `{topic}` was created meanwhile by someone else")?;
        }
        for p in &self.partitions_added {
            writeln!(
                f,
                "grew `{}` from {} to {} partitions",
                p.topic, p.from, p.to
            )?;
        }
        for c in &self.configs_set {
            writeln!(f, "set `{}`={} on `{}`", c.key, c.desired, c.topic)?;
        }
        for acl in &self.acls_created {
            writeln!(f, "created ACL: {acl}")?;
        }
        for acl in &self.acls_removed {
            writeln!(f, "removed ACL: {acl}")?;
        }
        if self.acl_removals_skipped > 0 {
            writeln!(
                f,
                "left {} ACLs that no grant implies (pass --allow-acl-removal to remove them)",
                self.acl_removals_skipped
            )?;
        }
        for u in &self.not_applied {
            writeln!(
                f,
                "not applied: `{}` {} declared {}, actual {} ({})",
                u.topic, u.what, u.desired, u.actual, u.why
            )?;
        }
        if self.is_empty() {
            writeln!(f, "nothing to change")?;
        }
        Ok(())
    }
}

/// Plans and applies a [`Topology`] on a cluster. See the [module docs](self).
pub struct KafkaAdmin {
    client: Arc<AdminClient>,
    topology: &'static Topology,
    timeout: Duration,
}

impl fmt::Debug for KafkaAdmin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaAdmin")
            .field("topics", &self.topology.topics().count())
            .field("timeout", &self.timeout)
            .finish()
    }
}

fn task_failed(e: tokio::task::JoinError) -> Error {
    Error::Runtime(format!("an admin task failed: {e}"))
}

impl KafkaAdmin {
    /// An admin for `topology` on the cluster of `settings` (any security protocol; the
    /// user needs to describe and create topics, alter their configs and the ACLs).
    /// Requests wait up to `KAFKA_REQUEST_TIMEOUT_MS`.
    pub fn new(settings: &Settings, topology: &'static Topology) -> Result<Self, Error> {
        if let Some(prefix) = settings.scope.prefix() {
            return Err(Error::Topology(format!(
                "the admin provisions the declared names, and these settings name every topic \
                 and group with the test kit's prefix `{prefix}`; the kit creates its topics \
                 itself (`TestKit::start`)"
            )));
        }
        Ok(KafkaAdmin {
            client: Arc::new(acl::admin_client(settings)?),
            topology,
            timeout: Duration::from_millis(settings.request_timeout_ms.into()),
        })
    }

    /// The topology this admin provisions.
    pub fn topology(&self) -> &'static Topology {
        self.topology
    }

    fn options(&self) -> AdminOptions {
        AdminOptions::new()
            .request_timeout(Some(self.timeout))
            .operation_timeout(Some(self.timeout))
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&AdminClient, Duration) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let (client, timeout) = (Arc::clone(&self.client), self.timeout);
        tokio::task::spawn_blocking(move || work(&client, timeout))
            .await
            .map_err(task_failed)?
    }

    /// Partition and replica counts of the declared topics that exist.
    async fn topic_shapes(&self) -> Result<BTreeMap<String, (i32, i16)>, Error> {
        let declared: Vec<&'static str> = self.topology.topics().map(|t| t.name).collect();
        self.blocking(move |client, timeout| {
            let metadata = client
                .inner()
                .fetch_metadata(None, timeout)
                .map_err(|e| Error::kafka("reading the cluster's topics", e))?;
            let mut shapes = BTreeMap::new();
            for topic in metadata.topics() {
                if topic.error().is_some() || !declared.contains(&topic.name()) {
                    continue;
                }
                let partitions = i32::try_from(topic.partitions().len()).unwrap_or(i32::MAX);
                let replicas = topic
                    .partitions()
                    .first()
                    .map_or(0, |p| i16::try_from(p.replicas().len()).unwrap_or(i16::MAX));
                shapes.insert(topic.name().to_string(), (partitions, replicas));
            }
            Ok(shapes)
        })
        .await
    }

    /// What the cluster holds of the declared topics and of the declared users' ACLs.
    pub async fn live(&self) -> Result<Live, Error> {
        let shapes = self.topic_shapes().await?;
        let specifiers: Vec<ResourceSpecifier<'_>> =
            shapes.keys().map(|t| ResourceSpecifier::Topic(t)).collect();
        let mut topics = BTreeMap::new();
        if !specifiers.is_empty() {
            let results = self
                .client
                .describe_configs(&specifiers, &self.options())
                .await
                .map_err(|e| Error::kafka("describing the declared topics' configs", e))?;
            for ((name, (partitions, replication_factor)), result) in shapes.iter().zip(results) {
                let resource = result.map_err(|code| Error::Admin {
                    what: format!("describing the configs of topic `{name}`"),
                    message: code.to_string(),
                })?;
                let configs = resource
                    .entries
                    .into_iter()
                    .filter_map(|e| Some((e.name, e.value?)))
                    .collect();
                topics.insert(
                    name.clone(),
                    LiveTopic {
                        partitions: *partitions,
                        replication_factor: *replication_factor,
                        configs,
                    },
                );
            }
        }
        let principals: Vec<String> = self.topology.users().map(|u| u.principal()).collect();
        let acls = self
            .blocking(move |client, timeout| {
                let mut acls = Vec::new();
                for principal in &principals {
                    acls.extend(acl::describe_acls(client, principal, timeout)?);
                }
                acls.sort();
                acls.dedup();
                Ok(acls)
            })
            .await?;
        Ok(Live { topics, acls })
    }

    /// The difference between the topology and the cluster.
    pub async fn plan(&self) -> Result<Plan, Error> {
        Ok(Plan::diff(self.topology, &self.live().await?))
    }

    /// Applies `plan` and reports what was done. A plan is applied as it is: plan again
    /// right before applying when time has passed.
    pub async fn apply(&self, plan: &Plan, options: ApplyOptions) -> Result<Applied, Error> {
        let mut applied = Applied::default();
        self.create_topics(plan, &mut applied).await?;
        self.add_partitions(plan, &mut applied).await?;
        let mut by_topic: BTreeMap<&str, Vec<(String, String)>> = BTreeMap::new();
        for drift in &plan.alter_configs {
            by_topic
                .entry(&drift.topic)
                .or_default()
                .push((drift.key.clone(), drift.desired.clone()));
        }
        for (topic, configs) in by_topic {
            let topic = topic.to_string();
            self.blocking(move |client, timeout| {
                crate::sys::set_topic_configs(client, &topic, &configs, timeout)
            })
            .await?;
        }
        applied.configs_set = plan.alter_configs.clone();
        let acls = plan.add_acls.clone();
        self.blocking(move |client, timeout| acl::create_acls(client, &acls, timeout))
            .await?;
        applied.acls_created = plan.add_acls.clone();
        if options.allow_acl_removal {
            let acls = plan.remove_acls.clone();
            applied.acls_removed = self
                .blocking(move |client, timeout| acl::delete_acls(client, &acls, timeout))
                .await?;
        } else {
            applied.acl_removals_skipped = plan.remove_acls.len();
        }
        applied.not_applied = plan.unfixable.clone();
        if !applied.is_empty() {
            self.wait_until_visible(&applied).await?;
        }
        Ok(applied)
    }

    /// Waits until the cluster shows what was applied. The controller commits a change
    /// before the broker's metadata cache and authorizer have it, so a plan made right
    /// after an apply could otherwise still list it.
    async fn wait_until_visible(&self, applied: &Applied) -> Result<(), Error> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            let plan = self.plan().await?;
            let pending = plan
                .create_topics
                .iter()
                .filter(|t| applied.topics_created.contains(&t.topic))
                .count()
                + plan
                    .add_partitions
                    .iter()
                    .filter(|p| applied.partitions_added.contains(p))
                    .count()
                + plan
                    .alter_configs
                    .iter()
                    .filter(|c| {
                        applied
                            .configs_set
                            .iter()
                            .any(|s| s.topic == c.topic && s.key == c.key)
                    })
                    .count()
                + plan
                    .add_acls
                    .iter()
                    .filter(|a| applied.acls_created.contains(a))
                    .count()
                + plan
                    .remove_acls
                    .iter()
                    .filter(|a| applied.acls_removed.contains(a))
                    .count();
            if pending == 0 {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::Admin {
                    what: "applying the plan".into(),
                    message: format!(
                        "applied, but {pending} of the changes were still not visible on the \
                         cluster after {:?}",
                        self.timeout
                    ),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn create_topics(&self, plan: &Plan, applied: &mut Applied) -> Result<(), Error> {
        if plan.create_topics.is_empty() {
            return Ok(());
        }
        let new_topics: Vec<NewTopic<'_>> = plan
            .create_topics
            .iter()
            .map(|t| {
                let replication =
                    TopicReplication::Fixed(t.replication_factor.map_or(-1, i32::from));
                t.configs.iter().fold(
                    NewTopic::new(&t.topic, t.partitions.unwrap_or(-1), replication),
                    |topic, (k, v)| topic.set(k, v),
                )
            })
            .collect();
        let results = self
            .client
            .create_topics(&new_topics, &self.options())
            .await
            .map_err(|e| Error::kafka("creating the declared topics", e))?;
        for result in results {
            match result {
                Ok(topic) => applied.topics_created.push(topic),
                Err((topic, RDKafkaErrorCode::TopicAlreadyExists)) => {
                    applied.topics_existing.push(topic)
                }
                Err((topic, code)) => {
                    return Err(Error::Admin {
                        what: format!("creating topic `{topic}`"),
                        message: code.to_string(),
                    });
                }
            }
        }
        Ok(())
    }

    async fn add_partitions(&self, plan: &Plan, applied: &mut Applied) -> Result<(), Error> {
        if plan.add_partitions.is_empty() {
            return Ok(());
        }
        let requests: Vec<NewPartitions<'_>> = plan
            .add_partitions
            .iter()
            .map(|p| NewPartitions::new(&p.topic, usize::try_from(p.to).unwrap_or(0)))
            .collect();
        let results = self
            .client
            .create_partitions(&requests, &self.options())
            .await
            .map_err(|e| Error::kafka("adding partitions to the declared topics", e))?;
        let mut raced = Vec::new();
        for (result, increase) in results.into_iter().zip(&plan.add_partitions) {
            match result {
                Ok(_) => applied.partitions_added.push(increase.clone()),
                // Another instance grew it first; checked below.
                Err((_, RDKafkaErrorCode::InvalidPartitions)) => raced.push(increase),
                Err((topic, code)) => {
                    return Err(Error::Admin {
                        what: format!("adding partitions to `{topic}`"),
                        message: code.to_string(),
                    });
                }
            }
        }
        if !raced.is_empty() {
            let shapes = self.topic_shapes().await?;
            for increase in raced {
                let now = shapes.get(&increase.topic).map_or(0, |(p, _)| *p);
                if now < increase.to {
                    return Err(Error::Admin {
                        what: format!("adding partitions to `{}`", increase.topic),
                        message: format!(
                            "the broker refused to grow it to {} (it has {now})",
                            increase.to
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// Creates the declared topics that are missing, adds declared partitions and sets
    /// drifted configs; ACLs are left alone.
    pub async fn ensure_topics(&self) -> Result<Applied, Error> {
        let mut plan = self.plan().await?;
        plan.add_acls.clear();
        plan.remove_acls.clear();
        self.apply(&plan, ApplyOptions::default()).await
    }

    /// Creates the ACLs the grants imply that are missing; topics are left alone and no
    /// ACL is removed.
    pub async fn ensure_acls(&self) -> Result<Applied, Error> {
        let plan = Plan {
            add_acls: self.plan().await?.add_acls,
            ..Plan::default()
        };
        self.apply(&plan, ApplyOptions::default()).await
    }

    /// Closes the connection to the cluster.
    pub fn disconnect(self) {
        drop(self);
    }
}
