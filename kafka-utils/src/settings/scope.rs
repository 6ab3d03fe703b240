//! Where a service's names live on the cluster.
//!
//! A topic or consumer group is named on the cluster as it is declared, unless the settings
//! carry a prefix: the test kit (`kafka_utils::testing`) gives each test one on a real
//! cluster, so that tests sharing it, in parallel or one after another, never see each
//! other's records or groups. Every client made from the settings uses the prefix (the
//! producer, the consumer, the app and its dead letters, the health check); what code reads
//! stays as declared (`Context::topic`, `Received::topic`, `Delivered::topic`, the dead
//! letters' `kafka-utils.dlq.topic` header).

use std::borrow::Cow;
use std::sync::Arc;

/// The prefix of a service's names on the cluster, and how often its consumers commit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Scope {
    /// Put before every topic and group name on the cluster.
    prefix: Option<Arc<str>>,
    /// The consumers' `auto.commit.interval.ms` (librdkafka's 5 s when `None`).
    pub(crate) commit_interval_ms: Option<u32>,
    /// The consumers' `session.timeout.ms`, with heartbeats ten times as often (librdkafka's
    /// 45 s and 3 s when `None`).
    pub(crate) session_timeout_ms: Option<u32>,
}

impl Scope {
    /// Names on the cluster prefixed with `prefix` (none when empty).
    #[cfg_attr(not(any(feature = "testing", doc)), allow(dead_code))]
    pub(crate) fn with_prefix(mut self, prefix: &str) -> Self {
        self.prefix = (!prefix.is_empty()).then(|| Arc::from(prefix));
        self
    }

    /// The prefix, when there is one.
    pub(crate) fn prefix(&self) -> Option<&str> {
        self.prefix.as_deref()
    }

    /// The cluster's name of the topic or group declared as `declared`.
    pub(crate) fn name<'a>(&self, declared: &'a str) -> Cow<'a, str> {
        match &self.prefix {
            None => Cow::Borrowed(declared),
            Some(prefix) => Cow::Owned(format!("{prefix}{declared}")),
        }
    }

    /// Which of `declared` the cluster's `name` is, if any.
    pub(crate) fn declared<'d>(&self, declared: &[&'d str], name: &str) -> Option<&'d str> {
        let name = match &self.prefix {
            None => name,
            Some(prefix) => name.strip_prefix(&**prefix)?,
        };
        declared.iter().find(|d| **d == name).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_go_to_the_cluster_prefixed_and_come_back_as_declared() {
        let plain = Scope::default();
        assert_eq!(plain.name("orders"), "orders");
        assert_eq!(
            plain.declared(&["orders", "refunds"], "refunds"),
            Some("refunds")
        );

        let scoped = Scope::default().with_prefix("kt.7.");
        assert_eq!(scoped.name("orders"), "kt.7.orders");
        assert_eq!(
            scoped.declared(&["orders", "refunds"], "kt.7.refunds"),
            Some("refunds")
        );
        // Another test's topic, or the unprefixed one, is none of ours.
        assert_eq!(scoped.declared(&["orders"], "kt.8.orders"), None);
        assert_eq!(scoped.declared(&["orders"], "orders"), None);
        assert_eq!(Scope::default().with_prefix("").prefix(), None);
    }
}
