//! Health of a service's Kafka side, in the Spring Boot actuator shape:
//! `{"status":"UP","components":{"kafka":{...},"topics":{...},"consumer:<user>":{...}}}`.
//!
//! [`HealthCheck::check`] asks the cluster for:
//!
//! - `kafka`: whether a broker answers, and how many there are (DOWN when none answers);
//! - `topics`: whether every declared topic exists with at least its declared partitions
//!   (DOWN when one is missing, DEGRADED when one has fewer partitions);
//! - `consumer:<user>`, for each watched consumer: its group's state, the lag of each assigned
//!   partition (high watermark minus committed offset), and whether its poller stalled — no
//!   poll for longer than `KAFKA_MAX_POLL_INTERVAL_MS` while not waiting in one (DOWN).
//!
//! The overall status is the worst of the components'.
//!
//! # Answering in time
//!
//! Every report comes within the timeout ([`DEFAULT_TIMEOUT`], 800 ms: Kubernetes gives a
//! probe 1 s), in every state of the cluster: the components are checked concurrently under
//! one deadline a little before the timeout (an eighth of it, at most 100 ms, is left to send
//! the report). A request that comes while a check runs starts no other: it gets the last
//! report if that is younger than [`WHILE_CHECKING`] (1 s), else it waits for the running
//! check. A component that did not answer by the check's deadline is DOWN ("no answer
//! within …"): a check never falls back to an older report, which would say UP of a broker
//! that has just gone. [`HealthCheck::with_cache`] serves a report for a while before
//! checking again.
//!
//! # Probe groups
//!
//! As Spring Boot's `/actuator/health/liveness` and `/actuator/health/readiness`:
//!
//! - [`HealthCheck::liveness`]: the process is alive — its runtime runs tasks, and no watched
//!   consumer's poller stalled. It never asks the cluster, so that a broker outage does not
//!   restart every pod.
//! - [`HealthCheck::readiness`]: the process can do its work — the cluster answers, the
//!   declared topics are there, and every watched consumer runs and was assigned its
//!   partitions by its group.
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
//! assert_eq!(health.liveness().await.status, Status::Up);
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt as _;
use futures::future::{BoxFuture, Shared};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::Error;
use crate::acl::{self, AdminClient};
use crate::consumer::ConsumerProbe;
use crate::settings::Settings;
use crate::topology::Topology;

mod checks;

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
    inner: Arc<Checker>,
}

/// What the checks share with the one that runs in the background.
struct Checker {
    client: Arc<AdminClient>,
    topology: &'static Topology,
    /// How the cluster names the declared topics.
    scope: crate::settings::Scope,
    timeout: Duration,
    cache: Duration,
    consumers: Mutex<Vec<ConsumerProbe>>,
    reports: Mutex<Reports>,
}

/// The last report, and the check running now.
#[derive(Default)]
struct Reports {
    last: Option<(Instant, Health)>,
    running: Option<Shared<BoxFuture<'static, Health>>>,
}

impl std::fmt::Debug for HealthCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthCheck")
            .field("timeout", &self.inner.timeout)
            .field("cache", &self.inner.cache)
            .finish()
    }
}

/// How old the last report may be to answer a request that comes while a check runs;
/// an older one waits for that check.
pub const WHILE_CHECKING: Duration = Duration::from_secs(1);

/// The default bound on one report: Kubernetes gives a probe 1 s, and the answer must
/// travel too.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(800);

impl HealthCheck {
    /// A check of `topology` on the cluster of `settings`, bounded by [`DEFAULT_TIMEOUT`].
    pub fn new(settings: &Settings, topology: &'static Topology) -> Result<Self, Error> {
        let client = Arc::new(acl::admin_client(settings)?);
        let rotating: std::sync::Weak<dyn crate::settings::Rotate> = Arc::downgrade(&client) as _;
        crate::settings::watch_credentials(settings, rotating);
        Ok(HealthCheck {
            inner: Arc::new(Checker {
                client,
                topology,
                scope: settings.scope.clone(),
                timeout: DEFAULT_TIMEOUT,
                cache: Duration::ZERO,
                consumers: Mutex::new(Vec::new()),
                reports: Mutex::new(Reports::default()),
            }),
        })
    }

    fn with(self, change: impl FnOnce(&mut Checker)) -> Self {
        let mut inner = match Arc::try_unwrap(self.inner) {
            Ok(inner) => inner,
            // Not shared before it is configured: nothing else holds it.
            Err(shared) => return HealthCheck { inner: shared },
        };
        change(&mut inner);
        HealthCheck {
            inner: Arc::new(inner),
        }
    }

    /// Bounds each report by `timeout` instead.
    pub fn with_timeout(self, timeout: Duration) -> Self {
        self.with(|checker| checker.timeout = timeout)
    }

    /// Serves a report for `ttl` before checking again (default: no cache; a request that
    /// comes while a check runs shares that check in any case).
    pub fn with_cache(self, ttl: Duration) -> Self {
        self.with(|checker| checker.cache = ttl)
    }

    /// Adds a consumer's group state, lag and poller to the report.
    pub fn watch(&self, probe: ConsumerProbe) {
        if let Ok(mut consumers) = self.inner.consumers.lock() {
            consumers.push(probe);
        }
    }

    /// Every component, within the timeout: a component that did not answer in time is
    /// DOWN. A request that comes while a check runs gets the last report if it is younger
    /// than [`WHILE_CHECKING`], else that check's report.
    pub async fn check(&self) -> Health {
        let deadline = Instant::now() + self.inner.timeout;
        let running = {
            let mut reports = self.inner.lock_reports();
            if let Some((at, report)) = &reports.last
                && at.elapsed() < self.inner.cache
            {
                return report.clone();
            }
            match &reports.running {
                // While a check runs, a report it just replaced is still news.
                Some(_)
                    if let Some((at, report)) = &reports.last
                        && at.elapsed() < WHILE_CHECKING =>
                {
                    return report.clone();
                }
                Some(running) => running.clone(),
                None => {
                    let checker = Arc::clone(&self.inner);
                    let task = tokio::spawn(async move { checker.run().await });
                    let running = async move {
                        task.await
                            .unwrap_or_else(|e| Health::down(&format!("the check failed: {e}")))
                    }
                    .boxed()
                    .shared();
                    reports.running = Some(running.clone());
                    running
                }
            }
        };
        // The checks end before `deadline` (see `budget`): this bound is reached only when
        // the runtime itself did not get to them, and a stale report would hide that.
        match tokio::time::timeout_at(deadline.into(), running).await {
            Ok(report) => report,
            Err(_) => Health::down(&format!("no report within {:?}", self.inner.timeout)),
        }
    }

    /// The liveness group: the runtime runs tasks, and no watched consumer's poller stalled.
    /// Never asks the cluster: a broker outage is not a reason to restart the process.
    pub async fn liveness(&self) -> Health {
        let deadline = Instant::now() + self.inner.timeout;
        let mut components = BTreeMap::new();
        components.insert("runtime".to_string(), checks::runtime(deadline).await);
        for probe in self.inner.probes() {
            components.insert(format!("consumer:{}", probe.user()), checks::poller(&probe));
        }
        Health::of(components)
    }

    /// The readiness group: the cluster answers, the declared topics are there, and every
    /// watched consumer runs and was assigned its partitions. Within the timeout, as
    /// [`HealthCheck::check`].
    pub async fn readiness(&self) -> Health {
        let report = self.check().await;
        let mut components: BTreeMap<String, Component> = report
            .components
            .into_iter()
            .filter(|(name, _)| name == "kafka" || name == "topics")
            .collect();
        for probe in self.inner.probes() {
            components.insert(
                format!("consumer:{}", probe.user()),
                checks::assignment(&probe),
            );
        }
        Health::of(components)
    }
}

impl Checker {
    fn lock_reports(&self) -> std::sync::MutexGuard<'_, Reports> {
        self.reports
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn probes(&self) -> Vec<ConsumerProbe> {
        self.consumers.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// Runs every check concurrently, under one deadline, and keeps the report.
    async fn run(&self) -> Health {
        let budget = budget(self.timeout);
        let deadline = Instant::now() + budget;
        let cluster = checks::cluster(
            Arc::clone(&self.client),
            self.topology,
            self.scope.clone(),
            deadline,
            budget,
        );
        let probes = self.probes();
        let consumers = futures::future::join_all(
            probes
                .iter()
                .map(|probe| checks::consumer(Arc::clone(&self.client), probe.clone(), deadline)),
        );
        let ((kafka, topics), consumers) = tokio::join!(cluster, consumers);
        let mut components = BTreeMap::new();
        components.insert("kafka".to_string(), kafka);
        components.insert("topics".to_string(), topics);
        for (probe, component) in probes.iter().zip(consumers) {
            components.insert(format!("consumer:{}", probe.user()), component);
        }
        let report = Health::of(components);
        let mut reports = self.lock_reports();
        reports.last = Some((Instant::now(), report.clone()));
        reports.running = None;
        report
    }
}

/// How long the checks of a report bounded by `timeout` may take: an eighth of it, at most
/// 100 ms, is left to assemble and send the report, so that a component that did not
/// answer is reported DOWN in time rather than missing the request's bound.
fn budget(timeout: Duration) -> Duration {
    timeout.saturating_sub((timeout / 8).min(Duration::from_millis(100)))
}

impl Health {
    /// A report of `components`, its status the worst of theirs.
    fn of(components: BTreeMap<String, Component>) -> Self {
        let status = components
            .values()
            .map(|c| c.status)
            .max()
            .unwrap_or(Status::Up);
        Health { status, components }
    }

    /// DOWN: the cluster did not answer (`error` says how).
    fn down(error: &str) -> Self {
        let mut components = BTreeMap::new();
        components.insert(
            "kafka".to_string(),
            Component::new(Status::Down, json!({ "error": error })),
        );
        Health::of(components)
    }
}
