//! Where a kit's topics live: an embedded cluster of the kit's own, or a real cluster, under
//! a prefix of the test's own that the kit deletes afterwards.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rdkafka::admin::{AdminOptions, NewTopic, TopicReplication};
use rdkafka::types::RDKafkaErrorCode;

use crate::Error;
use crate::acl::{AdminClient, admin_client};
use crate::embedded::EmbeddedCluster;
use crate::settings::{Scope, Settings};
use crate::sys::DropOffRuntime;
use crate::topology::Topology;

/// What every kit's prefix on a real cluster starts with; then the kit's start (seconds
/// since the epoch), the process and a counter: `kafka-utils-test.1796620000.4242.3.`.
pub(super) const PREFIX_ROOT: &str = "kafka-utils-test.";

/// A prefix left by a kit that started longer ago than this is stale: its test ended
/// without deleting its topics (killed, or the process ended first), and the next kit to
/// start deletes them.
const STALE_AFTER: Duration = Duration::from_secs(3600);

/// How long the kit waits for the cluster's admin answers.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);

/// The consumers' `auto.commit.interval.ms` in a kit: an app's handled records are
/// committed within this, so that [`super::RunningApp::settle`] sees them soon.
const COMMIT_INTERVAL_MS: u32 = 10;

/// The consumers' `session.timeout.ms` on the embedded cluster: it keeps an emptied group
/// waiting for most of its members' session timeout before the next member gets its
/// partitions (librdkafka's mock cluster), 44 s at librdkafka's 45 s; 1 s at this. A real
/// broker rebalances an emptied group at once (and refuses sessions under 6 s by default).
const EMBEDDED_SESSION_TIMEOUT_MS: u32 = 2_000;

/// The kit's `KAFKA_RETRY_BACKOFF_MS`: an app's in-place retries (and librdkafka's) wait
/// a millisecond, doubling, instead of 100.
const RETRY_BACKOFF_MS: u32 = 1;

/// The cluster under a kit.
pub(super) enum Backend {
    /// An embedded cluster of the kit's own, destroyed off the runtime with it.
    Embedded(DropOffRuntime<Arc<EmbeddedCluster>>),
    /// A real cluster, where the kit made its topics under a prefix.
    Real(DropOffRuntime<Real>),
}

/// A kit's part of a real cluster: its prefixed topics and groups, deleted when it goes.
pub(super) struct Real {
    admin: Arc<AdminClient>,
    topics: Vec<String>,
    /// The groups of the apps the kit ran, as the cluster names them.
    pub(super) groups: Mutex<Vec<String>>,
    /// Deleted already (by [`Real::delete_now`]).
    deleted: std::sync::atomic::AtomicBool,
}

impl Real {
    /// Deletes the kit's topics and groups now, and waits for the cluster's answer. Blocks:
    /// call it off the runtime.
    pub(super) fn delete_now(&self) {
        if self.deleted.swap(true, Ordering::AcqRel) {
            return;
        }
        let groups = std::mem::take(&mut *self.groups.lock().unwrap_or_else(|p| p.into_inner()));
        delete(&self.admin, &self.topics, &groups);
    }
}

impl Drop for Real {
    fn drop(&mut self) {
        // Dropped off the runtime (see `Backend`): blocking here holds up no task.
        self.delete_now();
    }
}

/// Deletes `topics` and `groups` from the cluster of `admin`, as far as it can: what is
/// left is a later kit's to sweep (see [`STALE_AFTER`]).
fn delete(admin: &AdminClient, topics: &[String], groups: &[String]) {
    let options = AdminOptions::new().request_timeout(Some(ADMIN_TIMEOUT));
    if !groups.is_empty() {
        let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
        if let Err(e) = futures::executor::block_on(admin.delete_groups(&groups, &options)) {
            tracing::debug!(error = %e, "the test kit could not delete its groups");
        }
    }
    if !topics.is_empty() {
        let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
        if let Err(e) = futures::executor::block_on(admin.delete_topics(&topics, &options)) {
            tracing::warn!(error = %e, "the test kit could not delete its topics");
        }
    }
}

/// The settings every kit's clients use on top of the cluster's: commits seen at once,
/// retries without a wait that slows a test down, names under `prefix`.
fn kit_settings(mut settings: Settings, prefix: &str) -> Settings {
    settings.retry_backoff_ms = RETRY_BACKOFF_MS;
    let mut scope = Scope::default().with_prefix(prefix);
    scope.commit_interval_ms = Some(COMMIT_INTERVAL_MS);
    settings.scope = scope;
    settings
}

/// Starts an embedded cluster with every topic of `topology` (with its declared partitions)
/// and the settings that reach it.
pub(super) fn embedded(topology: &'static Topology) -> Result<(Backend, Settings), Error> {
    let cluster = EmbeddedCluster::start(1)?;
    for topic in topology.topics() {
        cluster.create_topic(topic.name, topic.partitions.unwrap_or(1))?;
    }
    let mut settings = kit_settings(Settings::new(cluster.bootstrap_servers()), "");
    settings.scope.session_timeout_ms = Some(EMBEDDED_SESSION_TIMEOUT_MS);
    Ok((
        Backend::Embedded(DropOffRuntime::new(Arc::new(cluster))),
        settings,
    ))
}

/// A prefix no other kit has: the start second, the process and a counter.
fn fresh_prefix() -> String {
    static KITS: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let kit = KITS.fetch_add(1, Ordering::Relaxed);
    format!("{PREFIX_ROOT}{now}.{}.{kit}.", std::process::id())
}

/// When the kit whose prefix starts `name` started (seconds since the epoch), if `name` is
/// a kit's.
fn kit_started(name: &str) -> Option<u64> {
    name.strip_prefix(PREFIX_ROOT)?
        .split('.')
        .next()?
        .parse()
        .ok()
}

/// Makes every topic of `topology` on the cluster of `settings` (from the environment)
/// under a fresh prefix, with its declared partitions and the cluster's defaults for the
/// rest, and sweeps what stale kits left.
pub(super) async fn real(
    topology: &'static Topology,
    settings: Settings,
) -> Result<(Backend, Settings), Error> {
    let prefix = fresh_prefix();
    let settings = kit_settings(settings, &prefix);
    let admin = Arc::new(admin_client(&settings)?);
    sweep(&admin).await;
    let topics: Vec<(String, i32)> = topology
        .topics()
        .map(|t| {
            (
                settings.cluster_name(t.name).into_owned(),
                t.partitions.unwrap_or(1),
            )
        })
        .collect();
    // The cluster's replication and configs: a test checks handlers, and a declared
    // replication of 3 or `min.insync.replicas` of 2 cannot be met by a one-broker cluster.
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|(name, partitions)| NewTopic::new(name, *partitions, TopicReplication::Fixed(-1)))
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(ADMIN_TIMEOUT));
    let created = admin
        .create_topics(&new, &options)
        .await
        .map_err(|e| Error::kafka("creating the test kit's topics", e))?;
    let real = Real {
        admin: Arc::clone(&admin),
        topics: topics.iter().map(|(name, _)| name.clone()).collect(),
        groups: Mutex::new(Vec::new()),
        deleted: std::sync::atomic::AtomicBool::new(false),
    };
    for result in created {
        if let Err((topic, code)) = result
            && code != RDKafkaErrorCode::TopicAlreadyExists
        {
            return Err(Error::kafka(
                format!("creating the test kit's topic `{topic}`"),
                rdkafka::error::KafkaError::AdminOp(code),
            ));
        }
    }
    // The topics exist once every broker's metadata has them: until then a read would
    // find no partition and a send would wait for one.
    let watching = Arc::clone(&admin);
    tokio::task::spawn_blocking(move || visible(&watching, &topics))
        .await
        .map_err(|e| Error::Runtime(format!("the test kit's topics: {e}")))??;
    Ok((Backend::Real(DropOffRuntime::new(real)), settings))
}

/// Waits until the cluster's metadata shows each of `topics` with its partitions.
fn visible(admin: &AdminClient, topics: &[(String, i32)]) -> Result<(), Error> {
    let deadline = std::time::Instant::now() + ADMIN_TIMEOUT;
    let mut waiting: Vec<&(String, i32)> = topics.iter().collect();
    while !waiting.is_empty() {
        let metadata = admin
            .inner()
            .fetch_metadata(None, ADMIN_TIMEOUT)
            .map_err(|e| Error::kafka("reading the test kit's topics", e))?;
        waiting.retain(|(name, partitions)| {
            !metadata.topics().iter().any(|t| {
                t.name() == name
                    && t.error().is_none()
                    && t.partitions().len() >= usize::try_from(*partitions).unwrap_or(0)
            })
        });
        if waiting.is_empty() {
            break;
        }
        if std::time::Instant::now() >= deadline {
            let names: Vec<&str> = waiting.iter().map(|(n, _)| n.as_str()).collect();
            return Err(Error::Runtime(format!(
                "the test kit created {names:?}, and the cluster did not show them within {ADMIN_TIMEOUT:?}"
            )));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

/// Deletes the topics of kits that started more than [`STALE_AFTER`] ago.
async fn sweep(admin: &Arc<AdminClient>) {
    let listing = Arc::clone(admin);
    let names = tokio::task::spawn_blocking(move || {
        listing
            .inner()
            .fetch_metadata(None, ADMIN_TIMEOUT)
            .map(|m| {
                m.topics()
                    .iter()
                    .map(|t| t.name().to_string())
                    .collect::<Vec<_>>()
            })
    })
    .await;
    let Ok(Ok(names)) = names else {
        return;
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let stale: Vec<String> = names
        .into_iter()
        .filter(|name| {
            kit_started(name).is_some_and(|s| now.saturating_sub(s) > STALE_AFTER.as_secs())
        })
        .collect();
    if !stale.is_empty() {
        tracing::info!(
            topics = stale.len(),
            "deleting the topics stale test kits left"
        );
        let admin = Arc::clone(admin);
        let _ = tokio::task::spawn_blocking(move || delete(&admin, &stale, &[])).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_says_when_its_kit_started() {
        let prefix = fresh_prefix();
        let other = fresh_prefix();
        assert_ne!(prefix, other);
        let started = kit_started(&format!("{prefix}orders")).unwrap();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(now - started < 60);
        assert_eq!(kit_started("orders"), None);
        assert_eq!(kit_started("kafka-utils-test.soon.1.2.orders"), None);
    }
}
