//! An app run by the kit in the background, and the wait until it has settled: everything
//! on its topics handled and committed, everything its handlers sent acknowledged.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::Error;
use crate::settings::Settings;
use crate::sys::DropOffRuntime;

use super::observer::{observer, partitions as partitions_of};

/// How long [`RunningApp::settle`] waits by default before it says what is missing.
pub const SETTLE_WITHIN: Duration = Duration::from_secs(30);

/// How often [`RunningApp::settle`] looks again.
const LOOK_EVERY: Duration = Duration::from_millis(5);

/// The longest one look at the cluster may take.
const LOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// An [`App`](crate::app::App) the kit runs in the background (see
/// [`TestKit::run`](super::TestKit::run)). Dropping it stops the app.
pub struct RunningApp {
    user: &'static str,
    /// The group (as declared), the topics handled and the settings they run with, until the
    /// first settle makes the watch of them (it asks the cluster: off the runtime).
    watched: (String, Vec<&'static str>, Settings),
    watch: tokio::sync::OnceCell<Arc<Watch>>,
    /// How many records the app's producer holds unacknowledged.
    in_flight: Arc<dyn Fn() -> i32 + Send + Sync>,
    stop: Option<oneshot::Sender<()>>,
    task: Mutex<Option<JoinHandle<Result<(), Error>>>>,
    /// The app's end, once [`RunningApp::settle`] saw it end early.
    ended: Mutex<Option<Result<(), Error>>>,
    within: Duration,
}

impl std::fmt::Debug for RunningApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningApp")
            .field("user", &self.user)
            .field("group", &self.watched.0)
            .field("topics", &self.watched.1)
            .finish_non_exhaustive()
    }
}

/// What [`RunningApp::settle`] reads: the group's committed offsets and the partitions'
/// ends, through a consumer that never joins the group.
struct Watch {
    observer: DropOffRuntime<BaseConsumer>,
    group: String,
    /// Each handled partition: its topic as the cluster names it, as declared, its number.
    partitions: Vec<(String, &'static str, i32)>,
}

/// One partition as one look found it.
struct Seen {
    topic: &'static str,
    partition: i32,
    committed: Option<i64>,
    low: i64,
    high: i64,
}

impl Seen {
    /// Everything up to the partition's end is committed (nothing committed counts as the
    /// start: a partition with no records needs no commit).
    fn settled(&self) -> bool {
        self.committed.unwrap_or(self.low) >= self.high
    }
}

impl Watch {
    /// A watch of `group`'s offsets of `topics` on the cluster of `settings`.
    fn new(settings: &Settings, group: &str, topics: &[&'static str]) -> Result<Self, Error> {
        let observer = observer(settings, group, "watch of an app")?;
        let mut partitions = Vec::new();
        for topic in topics {
            let name = settings.cluster_name(topic).into_owned();
            for partition in 0..partitions_of(&observer, topic, &name, LOOK_TIMEOUT)? {
                partitions.push((name.clone(), *topic, partition));
            }
        }
        let group = settings.cluster_name(group).into_owned();
        Ok(Watch {
            observer,
            group,
            partitions,
        })
    }

    /// The committed offsets first, then how much the producer holds, then the ends: a
    /// record a handler sent (and the app acknowledged) before its offset was committed is
    /// in an end read after that commit.
    fn look(&self, in_flight: &dyn Fn() -> i32) -> Result<(Vec<Seen>, i32), Error> {
        let mut list = TopicPartitionList::new();
        for (name, _, partition) in &self.partitions {
            list.add_partition(name, *partition);
        }
        let committed = self
            .observer
            .committed_offsets(list, LOOK_TIMEOUT)
            .map_err(|e| Error::kafka(format!("reading group `{}`'s offsets", self.group), e))?;
        let in_flight = in_flight();
        let mut seen = Vec::with_capacity(self.partitions.len());
        for (name, topic, partition) in &self.partitions {
            let committed =
                committed
                    .find_partition(name, *partition)
                    .and_then(|e| match e.offset() {
                        Offset::Offset(offset) => Some(offset),
                        _ => None,
                    });
            let (low, high) = self
                .observer
                .fetch_watermarks(name, *partition, LOOK_TIMEOUT)
                .map_err(|e| {
                    Error::kafka(format!("reading the end of `{topic}`/{partition}"), e)
                })?;
            seen.push(Seen {
                topic,
                partition: *partition,
                committed,
                low,
                high,
            });
        }
        Ok((seen, in_flight))
    }
}

impl RunningApp {
    /// Watches `group`'s offsets of `topics` while `task` runs the app of `user`.
    pub(super) fn new(
        settings: &Settings,
        user: &'static str,
        group: &str,
        topics: &[&'static str],
        in_flight: Arc<dyn Fn() -> i32 + Send + Sync>,
        stop: oneshot::Sender<()>,
        task: JoinHandle<Result<(), Error>>,
    ) -> Self {
        RunningApp {
            user,
            watched: (group.to_string(), topics.to_vec(), settings.clone()),
            watch: tokio::sync::OnceCell::new(),
            in_flight,
            stop: Some(stop),
            task: Mutex::new(Some(task)),
            ended: Mutex::new(None),
            within: SETTLE_WITHIN,
        }
    }

    /// How long [`settle`](Self::settle) waits before it fails ([`SETTLE_WITHIN`] unless
    /// set).
    pub fn settle_within(mut self, within: Duration) -> Self {
        self.within = within;
        self
    }

    /// The consumer group the app runs in, as the cluster names it.
    pub fn group(&self) -> String {
        self.watched.2.cluster_name(&self.watched.0).into_owned()
    }

    /// The watch of the app's group and topics, made on first use.
    async fn watch(&self) -> Result<Arc<Watch>, Error> {
        self.watch
            .get_or_try_init(|| async {
                let (group, topics, settings) = self.watched.clone();
                tokio::task::spawn_blocking(move || Watch::new(&settings, &group, &topics))
                    .await
                    .map_err(|e| Error::Runtime(format!("the test kit's watch failed: {e}")))?
                    .map(Arc::new)
            })
            .await
            .cloned()
    }

    /// Waits until the app has settled: every record on the topics it handles, up to their
    /// end now, is handled (or dead-lettered) and its offset committed, and everything its
    /// handlers sent is acknowledged. Nothing is guessed: it compares the group's committed
    /// offsets with the partitions' ends, as the cluster reports them, every few
    /// milliseconds. So a test that sent N records and settled has N handled, never fewer.
    ///
    /// An error when the app ended (with its error), or when it has not settled within
    /// [`settle_within`](Self::settle_within) (30 s by default): the error lists each
    /// partition behind, with what is committed of it and where it ends.
    pub async fn settle(&self) -> Result<(), Error> {
        let started = Instant::now();
        loop {
            self.check_running().await?;
            let watch = self.watch().await?;
            let in_flight = Arc::clone(&self.in_flight);
            let looking = Arc::clone(&watch);
            let looked = tokio::task::spawn_blocking(move || looking.look(&*in_flight))
                .await
                .map_err(|e| Error::Runtime(format!("the test kit's look failed: {e}")))?;
            match looked {
                Ok((seen, in_flight)) => {
                    if in_flight == 0 && seen.iter().all(Seen::settled) {
                        return Ok(());
                    }
                    if started.elapsed() >= self.within {
                        return Err(self.unsettled(&seen, in_flight, &watch.group));
                    }
                }
                // A request the cluster did not answer now (a connection being made again):
                // looked at again, up to the deadline.
                Err(error) if started.elapsed() >= self.within => return Err(error),
                Err(error) => tracing::debug!(%error, "the test kit looks again"),
            }
            tokio::time::sleep(LOOK_EVERY).await;
        }
    }

    /// The error of an app that did not settle in time.
    fn unsettled(&self, seen: &[Seen], in_flight: i32, group: &str) -> Error {
        let mut behind = String::new();
        for s in seen.iter().filter(|s| !s.settled()) {
            let committed = s.committed.map_or("nothing".to_string(), |c| c.to_string());
            let _ = write!(
                behind,
                "; `{}`/{}: committed {committed}, ends at {}",
                s.topic, s.partition, s.high
            );
        }
        if in_flight > 0 {
            let _ = write!(
                behind,
                "; {in_flight} record(s) its handlers sent are unacknowledged"
            );
        }
        Error::Runtime(format!(
            "the app of user `{}` (group `{}`) did not settle within {:?}{behind}",
            self.user, group, self.within
        ))
    }

    /// An error when the app has ended (what it ended with, or that it stopped early).
    async fn check_running(&self) -> Result<(), Error> {
        if let Some(ended) = &*self.ended.lock().unwrap_or_else(|p| p.into_inner()) {
            return Err(ended_early(self.user, ended));
        }
        let finished = {
            let mut task = self.task.lock().unwrap_or_else(|p| p.into_inner());
            match task.as_ref() {
                Some(handle) if handle.is_finished() => task.take(),
                _ => None,
            }
        };
        let Some(handle) = finished else {
            return Ok(());
        };
        let ended = joined(handle.await);
        let error = ended_early(self.user, &ended);
        *self.ended.lock().unwrap_or_else(|p| p.into_inner()) = Some(ended);
        Err(error)
    }

    /// Stops the app gracefully and returns how it ended (see
    /// [`App::run_until`](crate::app::App::run_until)).
    pub async fn stop(mut self) -> Result<(), Error> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let task = self.task.lock().unwrap_or_else(|p| p.into_inner()).take();
        match task {
            Some(task) => joined(task.await),
            None => self
                .ended
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take()
                .unwrap_or(Ok(())),
        }
    }
}

impl Drop for RunningApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The outcome of the app's task.
fn joined(joined: Result<Result<(), Error>, tokio::task::JoinError>) -> Result<(), Error> {
    joined.map_err(|e| Error::Runtime(format!("the app's task failed: {e}")))?
}

/// The error of `settle` for an app of `user` that ended with `ended`.
fn ended_early(user: &str, ended: &Result<(), Error>) -> Error {
    match ended {
        Ok(()) => Error::Runtime(format!(
            "the app of user `{user}` stopped before it settled"
        )),
        Err(e) => Error::Runtime(format!("the app of user `{user}` ended: {e}")),
    }
}
