//! The running app's loop: takes what librdkafka fetched from the partitions whose workers
//! have room, hands each partition's share to its worker (one started per assignment), and
//! at the stop waits for the workers until the deadline, then abandons those still running.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering as Atomic;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::batch::{Batch, WindowInput};
use super::options::App;
use super::ordering::Ordering;
use super::worker::Runner;
use crate::Error;
use crate::access::User;
use crate::consumer::{Assignment, HeldBatch, Shared, Took, static_topic};
use crate::metrics::TopicMetrics;

/// A partition's worker: its assignment, and where its batches go.
pub(super) struct Worker<U: User> {
    assignment: Arc<Assignment>,
    batches: mpsc::UnboundedSender<Batch<U>>,
}

/// The running app's loop: takes the partitions' records and hands them to their workers.
pub(super) struct Dispatch<'a, U: User, C> {
    pub(super) app: &'a App<U, C>,
    pub(super) runner: &'a Runner,
    pub(super) shared: &'a Arc<Shared>,
    pub(super) topics: &'a [&'static str],
    pub(super) counted: &'a HashMap<&'static str, Arc<TopicMetrics>>,
    pub(super) workers: HashMap<Partition, Worker<U>>,
    pub(super) tasks: JoinSet<()>,
    /// The partition of each worker task.
    pub(super) partitions_of: HashMap<tokio::task::Id, Partition>,
    pub(super) fail: (mpsc::UnboundedSender<Error>, mpsc::UnboundedReceiver<Error>),
    pub(super) batch_max: usize,
}

impl<U: User, C: Clone + Send + Sync + 'static> Dispatch<'_, U, C> {
    /// Hands records out until `stop`, a failure, a refusal or a worker's death.
    pub(super) async fn run(&mut self, stop: impl Future<Output = ()>) -> Result<(), Error> {
        tokio::pin!(stop);
        let refusal = self.shared.refusal().wait();
        tokio::pin!(refusal);
        loop {
            tokio::select! {
                biased;
                () = &mut stop => return Ok(()),
                Some(error) = self.fail.1.recv() => return Err(error),
                error = &mut refusal => return Err(error),
                Some(joined) = self.tasks.join_next_with_id(), if !self.tasks.is_empty() => {
                    match joined {
                        Ok((id, ())) => { self.partitions_of.remove(&id); }
                        Err(e) => return Err(self.died(e)),
                    }
                }
                () = async {
                    let _polling = self.app.probe.polling();
                    self.shared.partitions().ready().await;
                } => {}
            }
            for batch in self.take()? {
                self.hand(batch);
            }
            // Workers of partitions revoked for good, with nothing left to do, end.
            self.workers.retain(|_, worker| {
                !(worker.assignment.revoking()
                    && worker.assignment.in_flight.load(Atomic::Acquire) == 0)
            });
        }
    }

    /// Takes what librdkafka has fetched, as one batch per partition, from the partitions
    /// whose workers have room (one [fetch](crate::consumer) of the engine, again while it
    /// only met errors); `Err` when the login or an ACL is refused.
    fn take(&self) -> Result<Vec<Batch<U>>, Error> {
        let full = |a: &Assignment| a.in_flight.load(Atomic::Acquire) >= Assignment::MAX_IN_FLIGHT;
        loop {
            let mut batches: Vec<Batch<U>> = Vec::new();
            self.shared
                .fetch(U::NAME, self.batch_max, full, |assignment, message| {
                    match batches.last_mut() {
                        Some(batch) if Arc::ptr_eq(&batch.assignment, assignment) => {
                            batch.records.push(message);
                        }
                        _ => {
                            let topic = static_topic(self.topics, &self.shared.scope, &message);
                            let Some(route) = self.app.routes.get(topic) else {
                                return Ok(Took::More);
                            };
                            let mut records = HeldBatch::new(self.shared, self.batch_max.min(64));
                            records.push(message);
                            batches.push(Batch {
                                route: Arc::clone(route),
                                topic,
                                partition: assignment.partition,
                                assignment: Arc::clone(assignment),
                                records,
                            });
                        }
                    }
                    Ok(Took::More)
                })?;
            // A refusal stops the app; any other error is logged, and librdkafka goes on (a
            // refused login stops the app once it is final: see `Refusal`).
            let mut met = false;
            while let Some(error) = self.shared.next_error() {
                if let Error::Refused { .. } = error {
                    return Err(error);
                }
                tracing::warn!(%error, "consumer error");
                met = true;
            }
            if met && batches.is_empty() {
                // Only errors this time: the records fetched after them are taken now.
                continue;
            }
            for batch in &batches {
                if let Some(metrics) = self.counted.get(batch.topic) {
                    metrics
                        .consumed
                        .inc_by(batch.records.records().len() as f64);
                }
            }
            return Ok(batches);
        }
    }

    /// Hands `batch` to its partition's worker, started for the batch's assignment.
    fn hand(&mut self, batch: Batch<U>) {
        let key = (batch.topic, batch.partition);
        let current = self
            .workers
            .get(&key)
            .is_some_and(|w| Arc::ptr_eq(&w.assignment, &batch.assignment));
        if !current {
            let (batches, jobs) = mpsc::unbounded_channel();
            let (fail, producer, settings) = (
                self.fail.0.clone(),
                self.app.producer.clone(),
                Arc::clone(&self.app.settings),
            );
            let route = &batch.route;
            let task = match route.ordering {
                Ordering::Partition => self
                    .tasks
                    .spawn(self.runner.worker(jobs, fail, producer, settings)),
                ordering => self.tasks.spawn((route.run_window)(
                    self.runner,
                    WindowInput {
                        jobs,
                        fail,
                        producer,
                        settings,
                        assignment: Arc::clone(&batch.assignment),
                        topic: batch.topic,
                        ordering,
                        size: route.max_in_flight,
                    },
                )),
            };
            self.partitions_of.insert(task.id(), key);
            // An earlier worker of the partition (an earlier assignment) ends on its own.
            self.workers.insert(
                key,
                Worker {
                    assignment: Arc::clone(&batch.assignment),
                    batches,
                },
            );
        }
        batch.assignment.in_flight.fetch_add(1, Atomic::AcqRel);
        if let Some(worker) = self.workers.get(&key)
            && let Err(returned) = worker.batches.send(batch)
        {
            // The worker ended on a failure, which the loop reads next.
            returned.0.assignment.in_flight.fetch_sub(1, Atomic::AcqRel);
        }
    }

    /// The error of a worker task that died.
    fn died(&self, error: tokio::task::JoinError) -> Error {
        let (topic, partition) = self
            .partitions_of
            .get(&error.id())
            .copied()
            .unwrap_or(("?", -1));
        let why = if error.is_panic() {
            super::attempt::panicked(&*error.into_panic())
        } else {
            "it was cancelled".to_string()
        };
        Error::Runtime(format!(
            "the worker of `{topic}` partition {partition} died: {why}; its record is not committed"
        ))
    }

    /// Waits until `deadline` for the workers to end (they stop after the record in hand);
    /// those still running then are abandoned: cancelled where they wait, left alone where
    /// they block their thread. The first worker that died, if any.
    pub(super) async fn finish(&mut self, deadline: tokio::time::Instant) -> Option<Error> {
        let mut died = None;
        let mut note =
            |this: &Self, joined: Result<(tokio::task::Id, ()), tokio::task::JoinError>| {
                if let Err(e) = joined
                    && e.is_panic()
                    && died.is_none()
                {
                    died = Some(this.died(e));
                }
            };
        loop {
            match tokio::time::timeout_at(deadline, self.tasks.join_next_with_id()).await {
                Ok(Some(joined)) => note(self, joined),
                Ok(None) => return died,
                Err(_) => break,
            }
        }
        tracing::warn!(
            handlers = self.tasks.len(),
            timeout = ?self.app.shutdown_timeout,
            "handlers still running at the shutdown deadline are abandoned; their records will be received again"
        );
        self.tasks.abort_all();
        // The cancelled end at once; one that blocks its thread is left to it.
        let grace = tokio::time::Instant::now() + Duration::from_millis(100);
        while let Ok(Some(joined)) =
            tokio::time::timeout_at(grace, self.tasks.join_next_with_id()).await
        {
            note(self, joined);
        }
        self.tasks.detach_all();
        died
    }
}

/// A topic and one of its partitions: what each worker handles.
type Partition = (&'static str, i32);
