//! The consumer group's side: the client context (rebalances, statistics, refusals), the
//! group a user may use, and creating a subscribed consumer.

use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer as _, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::error::KafkaError;

use crate::Error;
use crate::access::User;
use crate::metrics::Metrics;
use crate::refusal::{Refusal, refused};
use crate::settings::{Settings, client_error};

use super::queues::PartitionQueues;

/// Commits stored offsets when partitions are revoked and auto commit is off, splits each
/// assigned partition's queue from the consumer's (see [`PartitionQueues`]), and logs
/// rebalances.
pub(crate) struct GroupContext {
    auto_commit: bool,
    user: &'static str,
    metrics: Option<Metrics>,
    /// A refused login, which ends receiving (librdkafka would retry it for ever).
    pub(crate) refusal: Refusal,
    /// The assigned partitions' own queues, read many records at a time.
    pub(crate) queues: PartitionQueues,
}

impl Drop for GroupContext {
    fn drop(&mut self) {
        // The context outlives the librdkafka handle: a queue still here cannot be destroyed.
        self.queues.abandon();
    }
}

impl rdkafka::ClientContext for GroupContext {
    fn stats_raw(&self, statistics: &[u8]) {
        if let Some(metrics) = &self.metrics {
            metrics.record_statistics(self.user, statistics);
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        match refused(self.user, &error, reason) {
            Some(refusal) => {
                if self.refusal.set(&refusal) {
                    tracing::error!(%refusal, "the cluster refused the consumer");
                }
            }
            None => tracing::error!(user = self.user, error = %error, reason, "consumer error"),
        }
    }
}

/// A receive error: a refusal when it is one, else librdkafka's error.
pub(crate) fn receive_error(user: &str, error: KafkaError) -> Error {
    refused(user, &error, &error.to_string())
        .unwrap_or_else(|| Error::kafka("receiving from the subscribed topics", error))
}

impl ConsumerContext for GroupContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(partitions) = rebalance {
            tracing::info!(count = partitions.count(), "partitions revoked");
            self.queues.revoke(partitions);
            if !self.auto_commit
                && let Err(e) = consumer.commit_consumer_state(CommitMode::Sync)
            {
                tracing::warn!(error = %e, "committing before a rebalance failed");
            }
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(partitions) = rebalance {
            tracing::info!(count = partitions.count(), "partitions assigned");
            // Before fetching starts (it waits for the committed offsets).
            self.queues
                .split(consumer.client().native_ptr(), partitions);
        }
    }
}

/// The group `requested` (or the default one), checked against `U`'s declaration.
pub(crate) fn group_for<U: User>(requested: Option<String>) -> Result<String, Error> {
    let spec = U::SPEC;
    let group = requested.unwrap_or_else(|| {
        spec.groups
            .first()
            .map(|g| g.to_string())
            .unwrap_or_else(|| spec.name.to_string())
    });
    let allowed = if spec.groups.is_empty() {
        group.starts_with(spec.name)
    } else {
        spec.groups.contains(&group.as_str())
    };
    if allowed {
        Ok(group)
    } else if spec.groups.is_empty() {
        Err(Error::Topology(format!(
            "user `{}` declares no consumer group, so its groups must start with `{}`; \
             `{group}` does not",
            spec.name, spec.name
        )))
    } else {
        Err(Error::Topology(format!(
            "group `{group}` is not declared for user `{}`; its groups are {}",
            spec.name,
            spec.groups
                .iter()
                .map(|g| format!("`{g}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }
}

pub(crate) fn create_consumer(
    settings: &Settings,
    group: &str,
    topics: &[&str],
    user: &'static str,
    metrics: Option<&Metrics>,
) -> Result<StreamConsumer<GroupContext>, Error> {
    let context = GroupContext {
        auto_commit: settings.enable_auto_commit,
        user,
        metrics: metrics.cloned(),
        refusal: Refusal::new(),
        queues: PartitionQueues::new(),
    };
    let consumer: StreamConsumer<GroupContext> = settings
        .consumer_config(group)?
        .create_with_context(context)
        .map_err(|e| client_error(format!("creating a consumer for user `{user}`"), e))?;
    consumer
        .subscribe(topics)
        .map_err(|e| Error::kafka(format!("subscribing to {topics:?}"), e))?;
    Ok(consumer)
}
