//! The consumer group's side: the client context (rebalances, statistics, refusals), and the
//! group a user may use.

use std::sync::{Arc, OnceLock, Weak};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer as _, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;

use super::probe::ProbeState;
use crate::Error;
use crate::access::User;
use crate::metrics::Metrics;
use crate::refusal::{Refusal, is_login_failure, refused};

use super::partitions::{Assignment, Partitions};

/// Told of each revoke before its commit: returns once the records in hand of the revoked
/// partitions are finished and stored, or its bound passed. Runs on the engine's thread.
pub(crate) trait Revocation: Send + Sync {
    /// `assignments` are being revoked: they hand out no more records.
    fn revoking(&self, assignments: &[Arc<Assignment>]);
}

/// The context of an engine's consumer: keeps the assigned partitions (split from the
/// consumer's queue, see [`Partitions`]), and on a revoke stops handing out their records,
/// lets the app finish those in hand, commits what was stored, and only then lets the revoke
/// complete. Also counts statistics and reports refusals.
pub(crate) struct GroupContext {
    user: &'static str,
    metrics: Option<Metrics>,
    /// A refused login, which ends receiving (librdkafka would retry it for ever).
    pub(crate) refusal: Refusal,
    /// The assigned partitions and their records.
    pub(crate) partitions: Partitions,
    probe: Arc<ProbeState>,
    revocation: OnceLock<Weak<dyn Revocation>>,
    /// How the last revoke's commit went.
    revoke_commit: std::sync::Mutex<Option<Result<(), KafkaError>>>,
}

impl GroupContext {
    pub(crate) fn new(
        user: &'static str,
        metrics: Option<Metrics>,
        probe: Arc<ProbeState>,
        bootstrap: &str,
    ) -> Self {
        GroupContext {
            user,
            metrics,
            refusal: Refusal::new(bootstrap),
            partitions: Partitions::new(),
            probe,
            revocation: OnceLock::new(),
            revoke_commit: std::sync::Mutex::new(None),
        }
    }

    /// How the last revoke's commit went, if there was one.
    pub(crate) fn revoke_commit(&self) -> Option<Result<(), KafkaError>> {
        self.revoke_commit
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Tells `revocation` of every revoke from now on.
    pub(crate) fn set_revocation(&self, revocation: Weak<dyn Revocation>) {
        let _ = self.revocation.set(revocation);
    }
}

impl Drop for GroupContext {
    fn drop(&mut self) {
        // The context outlives the librdkafka handle: a queue still here cannot be destroyed.
        self.partitions.abandon();
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
            // A login refused consistently is the end (see `Refusal`); a missing ACL at once.
            Some(refusal) if is_login_failure(&error) => {
                if let Some(refusal) = self.refusal.login_refused(&refusal, reason) {
                    tracing::error!(%refusal, "the cluster refused the consumer");
                }
            }
            Some(refusal) => {
                if self.refusal.set(&refusal) {
                    tracing::error!(%refusal, "the cluster refused the consumer");
                }
            }
            None => tracing::error!(user = self.user, error = %error, reason, "consumer error"),
        }
    }
}

impl ConsumerContext for GroupContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Revoke(partitions) = rebalance else {
            return;
        };
        tracing::info!(count = partitions.count(), "partitions revoked");
        if partitions.count() == 0 {
            return;
        }
        let revoking = self.partitions.revoking(partitions);
        if let Some(revocation) = self.revocation.get().and_then(Weak::upgrade) {
            revocation.revoking(&revoking);
        }
        let committed = match consumer.commit_consumer_state(CommitMode::Sync) {
            Err(e) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::NoOffset) => Ok(()),
            Err(e) => {
                tracing::warn!(error = %e, "committing before a rebalance failed");
                Err(e)
            }
            ok => ok,
        };
        *self
            .revoke_commit
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(committed);
        self.partitions.revoked(partitions);
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(partitions) => {
                tracing::info!(count = partitions.count(), "partitions assigned");
                // Before fetching starts (it waits for the committed offsets).
                self.partitions
                    .assigned(consumer.client().native_client(), partitions);
                self.probe.assigned();
            }
            Rebalance::Revoke(_) => {}
            Rebalance::Error(e) => tracing::warn!(error = %e, "rebalance failed"),
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
