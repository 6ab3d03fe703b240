//! The checks behind a health report: the cluster's metadata (brokers, declared topics), each
//! watched consumer's group, lag and poller, and the runtime's responsiveness. Each runs on
//! a blocking thread (librdkafka's calls block) and answers by one deadline, whatever the
//! cluster does.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::Offset;
use serde_json::{Map, Value, json};

use super::{Component, Status};
use crate::acl::AdminClient;
use crate::consumer::ConsumerProbe;
use crate::settings::Scope;
use crate::topology::Topology;

/// The time left until `deadline`, at least a millisecond (librdkafka reads zero as "do
/// not wait at all", which fails a request that would have been answered at once).
fn left(deadline: Instant) -> Duration {
    deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(1))
}

/// Runs `work` on a blocking thread and waits for it until `deadline`; the work itself uses
/// what is left of it for each librdkafka call.
async fn bounded<T: Send + 'static>(
    deadline: Instant,
    work: impl FnOnce(Instant) -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    let task = tokio::task::spawn_blocking(move || work(deadline));
    match tokio::time::timeout_at(deadline.into(), task).await {
        Ok(Ok(result)) => result,
        Ok(Err(e)) => Err(format!("the check failed: {e}")),
        Err(_) => Err("no answer in time".to_string()),
    }
}

/// `kafka` (a broker answers, and how many there are) and `topics` (every declared topic
/// exists with at least its declared partitions).
pub(super) async fn cluster(
    client: Arc<AdminClient>,
    topology: &'static Topology,
    scope: Scope,
    deadline: Instant,
    timeout: Duration,
) -> (Component, Component) {
    let declared: Vec<(&'static str, Option<i32>)> =
        topology.topics().map(|t| (t.name, t.partitions)).collect();
    let found = bounded(deadline, move |deadline| {
        let metadata = client
            .inner()
            .fetch_metadata(None, left(deadline))
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
            let error = if error == "no answer in time" {
                format!("no answer within {timeout:?}")
            } else {
                error
            };
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
        match live.get(&*scope.name(name)) {
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

/// `consumer:<user>`: the group's state, the lag of each assigned partition (high watermark
/// minus committed offset), and whether the poller stalled (DOWN).
pub(super) async fn consumer(
    admin: Arc<AdminClient>,
    probe: ConsumerProbe,
    deadline: Instant,
) -> Component {
    let Some(engine) = probe.engine() else {
        return Component::new(
            Status::Down,
            json!({ "error": "the consumer is not running" }),
        );
    };
    let group = engine.group().to_string();
    let since_poll = probe.since_poll();
    let stalled = probe.stalled();
    let assigned = probe.assigned();
    let lag = bounded(deadline, move |deadline| {
        // The admin client's: a consumer's own list of groups waits out its timeout.
        let state = admin
            .inner()
            .fetch_group_list(Some(&group), left(deadline))
            .ok()
            .and_then(|list| list.groups().first().map(|g| g.state().to_string()))
            .unwrap_or_else(|| "unknown".into());
        let committed = engine
            .committed(left(deadline))
            .map_err(|e| e.to_string())?;
        let mut lag = Map::new();
        let mut total = 0i64;
        for element in committed.elements() {
            let (topic, partition) = (element.topic(), element.partition());
            let (low, high) = admin
                .inner()
                .fetch_watermarks(topic, partition, left(deadline))
                .map_err(|e| e.to_string())?;
            let position = match element.offset() {
                Offset::Offset(offset) => offset,
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
                "assigned": assigned,
                "lag": lag,
                "total_lag": total,
                "since_poll_ms": millis(since_poll),
                "stalled": stalled,
            }),
        ),
        Err(error) => Component::new(
            Status::Down,
            json!({ "error": error, "assigned": assigned, "stalled": stalled }),
        ),
    }
}

/// `consumer:<user>` for liveness: the poller only (never the cluster).
pub(super) fn poller(probe: &ConsumerProbe) -> Component {
    let stalled = probe.stalled();
    Component::new(
        if stalled { Status::Down } else { Status::Up },
        json!({
            "running": probe.running(),
            "since_poll_ms": millis(probe.since_poll()),
            "stalled": stalled,
        }),
    )
}

/// `consumer:<user>` for readiness: running and assigned its partitions by its group.
pub(super) fn assignment(probe: &ConsumerProbe) -> Component {
    let (running, assigned) = (probe.running(), probe.assigned());
    Component::new(
        if assigned { Status::Up } else { Status::Down },
        json!({ "running": running, "assigned": assigned }),
    )
}

/// `runtime`: how long a task waited to be run (UP unless it was not run by `deadline`).
pub(super) async fn runtime(deadline: Instant) -> Component {
    let started = Instant::now();
    match tokio::time::timeout_at(
        deadline.into(),
        tokio::spawn(async move { started.elapsed() }),
    )
    .await
    {
        Ok(Ok(waited)) => {
            Component::new(Status::Up, json!({ "scheduling_delay_ms": millis(waited) }))
        }
        _ => Component::new(
            Status::Down,
            json!({ "error": "a task was not run in time: the runtime is blocked" }),
        ),
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl Component {
    pub(super) fn new(status: Status, details: Value) -> Self {
        Component {
            status,
            details: match details {
                Value::Object(map) => map,
                _ => Map::new(),
            },
        }
    }
}
