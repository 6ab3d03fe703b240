//! Health of a service's Kafka side, in the Spring Boot actuator shape:
//! `{"status":"UP","components":{"kafka":{...},"topics":{...},"consumer:<user>":{...}}}`.
//!
//! [`HealthCheck::check`] asks the cluster, within a bounded timeout, for:
//!
//! - `kafka`: whether a broker answers, and how many there are (DOWN when none answers);
//! - `topics`: whether every declared topic exists with at least its declared partitions
//!   (DOWN when one is missing, DEGRADED when one has fewer partitions);
//! - `consumer:<user>`, for each watched consumer: its group's state, the lag of each assigned
//!   partition (high watermark minus committed offset), and whether its poller stalled — no
//!   poll for longer than `KAFKA_MAX_POLL_INTERVAL_MS` while not waiting in one (DOWN).
//!
//! The overall status is the worst of the components'. A down broker gives DOWN within the
//! timeout, never a hang.
//!
//! ```no_run
//! # use kafka_utils::prelude::*;
//! # #[derive(KafkaTopics)] pub enum Topics { #[topic(name = "t", message = String)] T }
//! # #[derive(KafkaUsers)] pub enum Users { #[user(name = "u")] U }
//! # permissions! { Users::U => { Topics::T => [Read] } }
//! use kafka_utils::health::{HealthCheck, Status};
//! use kafka_utils::settings::Settings;
//!
//! # #[tokio::main] async fn main() -> Result<(), kafka_utils::Error> {
//! let health = HealthCheck::new(&Settings::from_env()?, &TOPOLOGY)?;
//! let report = health.check().await;
//! println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
//! assert!(report.status != Status::Down);
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::Offset;
use rdkafka::consumer::Consumer as _;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::Error;
use crate::acl::{self, Admin};
use crate::probe::ConsumerProbe;
use crate::settings::Settings;
use crate::topology::Topology;

/// A health status; the worst one wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    /// Working.
    Up,
    /// Working, but not as declared (e.g. a topic with fewer partitions).
    Degraded,
    /// Not working.
    Down,
}

/// One component's status and what was found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Component {
    /// Its status.
    pub status: Status,
    /// What was found (counts, lag, the error).
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub details: Map<String, Value>,
}

impl Component {
    fn new(status: Status, details: Value) -> Self {
        Component {
            status,
            details: match details {
                Value::Object(map) => map,
                _ => Map::new(),
            },
        }
    }
}

/// The whole report: the worst status and every component.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Health {
    /// The worst component status.
    pub status: Status,
    /// The components, by name.
    pub components: BTreeMap<String, Component>,
}

/// Checks a service's Kafka side. See the [module docs](self).
pub struct HealthCheck {
    client: Arc<Admin>,
    topology: &'static Topology,
    timeout: Duration,
    consumers: Mutex<Vec<ConsumerProbe>>,
}

impl std::fmt::Debug for HealthCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthCheck")
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The default bound on one check.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

impl HealthCheck {
    /// A check of `topology` on the cluster of `settings`, bounded by [`DEFAULT_TIMEOUT`].
    pub fn new(settings: &Settings, topology: &'static Topology) -> Result<Self, Error> {
        Ok(HealthCheck {
            client: Arc::new(acl::admin_client(settings)?),
            topology,
            timeout: DEFAULT_TIMEOUT,
            consumers: Mutex::new(Vec::new()),
        })
    }

    /// Bounds each check by `timeout` instead.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Adds a consumer's group state, lag and poller to the report.
    pub fn watch(&self, probe: ConsumerProbe) {
        if let Ok(mut consumers) = self.consumers.lock() {
            consumers.push(probe);
        }
    }

    /// Runs every check; never takes much longer than the timeout.
    pub async fn check(&self) -> Health {
        let mut components = BTreeMap::new();
        let (kafka, topics) = self.cluster().await;
        components.insert("kafka".to_string(), kafka);
        components.insert("topics".to_string(), topics);
        let probes: Vec<ConsumerProbe> =
            self.consumers.lock().map(|c| c.clone()).unwrap_or_default();
        for probe in probes {
            let name = format!("consumer:{}", probe.user());
            components.insert(name, self.consumer(probe).await);
        }
        let status = components
            .values()
            .map(|c| c.status)
            .max()
            .unwrap_or(Status::Up);
        Health { status, components }
    }

    /// Runs `work` on a blocking thread, bounded by the timeout (plus a little: librdkafka's
    /// own timeouts end the work itself).
    async fn bounded<T: Send + 'static>(
        &self,
        work: impl FnOnce(Duration) -> Result<T, String> + Send + 'static,
    ) -> Result<T, String> {
        let timeout = self.timeout;
        let task = tokio::task::spawn_blocking(move || work(timeout));
        match tokio::time::timeout(timeout + Duration::from_secs(1), task).await {
            Ok(Ok(result)) => result,
            Ok(Err(e)) => Err(format!("the check failed: {e}")),
            Err(_) => Err(format!("no answer within {timeout:?}")),
        }
    }

    async fn cluster(&self) -> (Component, Component) {
        let client = Arc::clone(&self.client);
        let declared: Vec<(&'static str, Option<i32>)> = self
            .topology
            .topics()
            .map(|t| (t.name, t.partitions))
            .collect();
        let found = self
            .bounded(move |timeout| {
                let metadata = client
                    .inner()
                    .fetch_metadata(None, timeout)
                    .map_err(|e| e.to_string())?;
                let brokers = metadata.brokers().len();
                let topics: BTreeMap<String, usize> = metadata
                    .topics()
                    .iter()
                    .filter(|t| t.error().is_none())
                    .map(|t| (t.name().to_string(), t.partitions().len()))
                    .collect();
                Ok((brokers, topics))
            })
            .await;
        let (brokers, live) = match found {
            Ok(found) => found,
            Err(error) => {
                let down = Component::new(Status::Down, json!({ "error": error }));
                let unknown = Component::new(
                    Status::Down,
                    json!({ "error": "the cluster did not answer" }),
                );
                return (down, unknown);
            }
        };
        let kafka = Component::new(Status::Up, json!({ "brokers": brokers }));
        let (mut missing, mut short, mut present) = (Vec::new(), Vec::new(), Vec::new());
        for (name, partitions) in declared {
            match live.get(name) {
                None => missing.push(name),
                Some(have) => {
                    let want = partitions
                        .and_then(|p| usize::try_from(p).ok())
                        .unwrap_or(0);
                    if *have < want {
                        short.push(json!({ "topic": name, "declared": want, "actual": have }));
                    } else {
                        present.push(name);
                    }
                }
            }
        }
        let status = if !missing.is_empty() {
            Status::Down
        } else if !short.is_empty() {
            Status::Degraded
        } else {
            Status::Up
        };
        let mut details = json!({ "present": present });
        if !missing.is_empty() {
            details["missing"] = json!(missing);
        }
        if !short.is_empty() {
            details["fewer_partitions"] = json!(short);
        }
        (kafka, Component::new(status, details))
    }

    async fn consumer(&self, probe: ConsumerProbe) -> Component {
        let attached = probe
            .state
            .consumer
            .lock()
            .ok()
            .and_then(|slot| slot.clone());
        let Some((consumer, group)) = attached else {
            return Component::new(
                Status::Down,
                json!({ "error": "the consumer is not running" }),
            );
        };
        let since_poll = probe.since_poll();
        let stalled = probe.stalled();
        let lag = self
            .bounded(move |timeout| {
                let state = consumer
                    .fetch_group_list(Some(&group), timeout)
                    .ok()
                    .and_then(|list| list.groups().first().map(|g| g.state().to_string()))
                    .unwrap_or_else(|| "unknown".into());
                let assignment = consumer.assignment().map_err(|e| e.to_string())?;
                let committed = consumer
                    .committed_offsets(assignment.clone(), timeout)
                    .map_err(|e| e.to_string())?;
                let mut lag = Map::new();
                let mut total = 0i64;
                for element in assignment.elements() {
                    let (topic, partition) = (element.topic(), element.partition());
                    let (low, high) = consumer
                        .fetch_watermarks(topic, partition, timeout)
                        .map_err(|e| e.to_string())?;
                    let position = match committed
                        .find_partition(topic, partition)
                        .map(|p| p.offset())
                    {
                        Some(Offset::Offset(offset)) => offset,
                        _ => low,
                    };
                    let behind = (high - position).max(0);
                    total += behind;
                    lag.insert(format!("{topic}/{partition}"), json!(behind));
                }
                Ok((group, state, lag, total))
            })
            .await;
        match lag {
            Ok((group, state, lag, total)) => Component::new(
                if stalled { Status::Down } else { Status::Up },
                json!({
                    "group": group,
                    "state": state,
                    "lag": lag,
                    "total_lag": total,
                    "since_poll_ms": u64::try_from(since_poll.as_millis()).unwrap_or(u64::MAX),
                    "stalled": stalled,
                }),
            ),
            Err(error) => {
                Component::new(Status::Down, json!({ "error": error, "stalled": stalled }))
            }
        }
    }
}
