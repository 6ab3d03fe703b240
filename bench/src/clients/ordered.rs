//! The orderings: kafka-utils' `App` at `Ordering::Partition`, `Key` or `Unordered` handling
//! the keyed topic (3 partitions, [`KEYS`] keys), with a handler that awaits `handler_ms`
//! (an I/O-bound service: records handled per second) or a no-op one (what the ordering
//! itself costs: CPU per record).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering as Atomic};
use std::time::{Duration, Instant};

use kafka_utils::app::{App, Context, Ordering};
use kafka_utils::producer::{Producer, Record};
use kafka_utils::settings::Settings;

use super::{BoxError, duration, topics, users};
use crate::job::{Job, Outcome, cpu_seconds};

/// The keys the records are spread over (record `n` has key `n % KEYS`).
pub const KEYS: u64 = 1_000;

/// How long an app may wait for its first record (the group join) before giving up.
const FIRST_RECORD: Duration = Duration::from_secs(60);

/// Writes exactly `job.count` records (`n`, key `n % KEYS`) with the typed producer.
pub(super) async fn fill(settings: &Settings, job: &Job) -> Result<Outcome, BoxError> {
    let producer = Producer::<users::Bench>::new(settings)?;
    let started = Instant::now();
    for n in 0..job.count {
        let key = (n % KEYS) as u32;
        producer
            .send_record_detached(topics::Ordering, Record::new(&n).key(&key))
            .await?;
    }
    producer.flush(Duration::from_secs(120)).await?;
    let totals = producer.delivery_totals();
    if totals.delivered != job.count || totals.failed != 0 {
        return Err(format!(
            "filling the ordering topic: {} of {} acknowledged, {} failed",
            totals.delivered, job.count, totals.failed
        )
        .into());
    }
    producer.close().await?;
    Ok(Outcome {
        messages: job.count,
        seconds: started.elapsed().as_secs_f64(),
        ..Outcome::default()
    })
}

/// The ordering a job names.
fn ordering(job: &Job) -> Result<Ordering, BoxError> {
    let all = [Ordering::Partition, Ordering::Key, Ordering::Unordered];
    all.into_iter()
        .find(|o| o.name() == job.ordering)
        .ok_or_else(|| {
            format!(
                "ordering `{}`: the orderings are partition, key and unordered",
                job.ordering
            )
            .into()
        })
}

/// Runs an app at the job's ordering and window in the job's group, from the topic's start:
/// for `seconds` after its first record, or until `count` records were handled. The records
/// and the CPU seconds are counted from the first record on (the group join is not what an
/// ordering costs).
pub(super) async fn run(settings: &Settings, job: &Job) -> Result<Outcome, BoxError> {
    let ordering = ordering(job)?;
    let wait = (job.handler_ms > 0).then(|| Duration::from_millis(job.handler_ms));
    let handled = Arc::new(AtomicU64::new(0));
    let counting = Arc::clone(&handled);
    let app = App::<users::Bench>::new(settings)?
        .group(job.group.clone())
        .ordering(ordering)
        .max_in_flight(job.window.max(1))
        .handle(topics::Ordering, move |n: u64, _: Context<users::Bench>| {
            let counting = Arc::clone(&counting);
            async move {
                if let Some(wait) = wait {
                    tokio::time::sleep(wait).await;
                }
                std::hint::black_box(n);
                counting.fetch_add(1, Atomic::Relaxed);
                Ok::<(), String>(())
            }
        });
    let window = duration(job.seconds);
    let mut measured = None;
    let stop = async {
        let joined_by = Instant::now() + FIRST_RECORD;
        while handled.load(Atomic::Relaxed) == 0 {
            if Instant::now() > joined_by {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let (from, from_cpu, started) =
            (handled.load(Atomic::Relaxed), cpu_seconds(), Instant::now());
        while started.elapsed() < window && handled.load(Atomic::Relaxed) < job.count {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        measured = Some((
            handled.load(Atomic::Relaxed) - from,
            started.elapsed().as_secs_f64(),
            cpu_seconds() - from_cpu,
        ));
    };
    app.run_until(stop).await?;
    let (messages, seconds, cpu_seconds) = measured
        .ok_or_else(|| format!("runner at {ordering}: no record within {FIRST_RECORD:?}"))?;
    Ok(Outcome {
        messages,
        seconds,
        cpu_seconds,
        ..Outcome::default()
    })
}
