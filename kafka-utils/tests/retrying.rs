//! Retry topics at run time (see `kafka_utils::retry_topic`), with the test kit: on the
//! embedded cluster, or on the cluster of `KAFKA_BOOTSTRAP_SERVERS` (`scripts/test.sh` runs
//! this binary both ways).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kafka_utils::dead_letter::Reason;
use kafka_utils::prelude::*;
use kafka_utils::retry_topic::RetryInfo;
use kafka_utils::testing::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub seq: u32,
    /// How many attempts fail before one passes (`u32::MAX`: every one).
    pub failures: u32,
    /// Whether its failure is permanent.
    pub permanent: bool,
}

#[derive(Debug, KafkaTopics)]
pub enum Topics {
    #[topic(name = "rt.jobs", message = Job, key = u32,
            retry = ["1s", "2s"], dead_letter = JobsDlq)]
    Jobs,
    #[topic(name = "rt.jobs.dlq", message = Job)]
    JobsDlq,
}

#[derive(Debug, KafkaUsers)]
pub enum Users {
    #[user(name = "rt", groups = ["rt"])]
    Rt,
}

permissions! {
    Users::Rt => {
        Topics::Jobs => [Read, Write, AutoCommitOffset],
        Topics::JobsDlq => [Read, Write],
    },
}

/// Each attempt: the job's number, the topic it came from and when.
type Attempts = Arc<Mutex<Vec<(u32, String, Instant)>>>;

/// An app whose handler fails each job as the job says, noting every attempt.
fn app(kit: &TestKit, attempts: &Attempts) -> Result<App<users::Rt>, kafka_utils::Error> {
    let noted = Arc::clone(attempts);
    Ok(App::<users::Rt>::new(kit.settings())?.group("rt").handle(
        topics::Jobs,
        move |job: Job, ctx: Context<users::Rt>| {
            let noted = Arc::clone(&noted);
            async move {
                let before = {
                    let mut noted = noted.lock().unwrap();
                    let before = noted.iter().filter(|(seq, _, _)| *seq == job.seq).count();
                    noted.push((job.seq, ctx.topic.to_string(), Instant::now()));
                    before
                };
                if (before as u32) < job.failures {
                    let why = format!("job {} fails (attempt {})", job.seq, before + 1);
                    return Err(if job.permanent {
                        Fail::permanent(why)
                    } else {
                        Fail::transient(why)
                    });
                }
                Ok(())
            }
        },
    ))
}

fn job(seq: u32, failures: u32) -> Job {
    Job {
        seq,
        failures,
        permanent: false,
    }
}

/// The attempts at job `seq`: where each came from, and when.
fn of(attempts: &Attempts, seq: u32) -> Vec<(String, Instant)> {
    attempts
        .lock()
        .unwrap()
        .iter()
        .filter(|(s, _, _)| *s == seq)
        .map(|(_, topic, at)| (topic.clone(), *at))
        .collect()
}

#[tokio::test]
async fn a_failing_record_goes_through_each_retry_topic_and_then_to_its_dead_letter()
-> Result<(), kafka_utils::Error> {
    let kit = TestKit::start(&TOPOLOGY).await?;
    let attempts: Attempts = Arc::default();
    let metrics = kafka_utils::metrics::Metrics::new();
    let running = kit.run(app(&kit, &attempts)?.metrics(&metrics))?;
    // Job 0 always fails; jobs 1 to 5 of the same partition (one key) pass.
    for seq in 0..6 {
        let failures = if seq == 0 { u32::MAX } else { 0 };
        kit.send_record(topics::Jobs, Record::new(&job(seq, failures)).key(&7u32))
            .await?;
    }
    running.settle().await?;
    running.stop().await?;

    let tried = of(&attempts, 0);
    let topics: Vec<&str> = tried.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(topics, ["rt.jobs", "rt.jobs.retry.1s", "rt.jobs.retry.2s"]);
    // Each retry waited its delay (not less), and the partition flowed on meanwhile.
    assert!(
        tried[1].1 - tried[0].1 >= Duration::from_secs(1),
        "{tried:?}"
    );
    assert!(
        tried[2].1 - tried[1].1 >= Duration::from_secs(2),
        "{tried:?}"
    );
    for seq in 1..6 {
        let passed = of(&attempts, seq);
        assert_eq!(passed.len(), 1, "job {seq}: {passed:?}");
        assert!(
            passed[0].1 < tried[1].1,
            "job {seq} waited for job 0's retry"
        );
    }
    let dead = kit.dead_letters(topics::Jobs).await?;
    dead.assert_count(1);
    let letter = &dead[0];
    assert_eq!(letter.value().expect("it decodes"), job(0, u32::MAX));
    // As from where it first came, with every attempt and its history in the headers.
    assert_eq!(
        (
            letter.info.topic.as_str(),
            letter.info.offset,
            letter.info.attempts
        ),
        ("rt.jobs", 0, 3)
    );
    assert_eq!(letter.info.reason, Reason::Handler);
    let retry = RetryInfo::from_headers(&letter.headers).expect("the retry headers");
    assert_eq!((retry.step, retry.attempts), (2, 2));
    assert!(
        retry.error.contains("job 0 fails (attempt 2)"),
        "{}",
        retry.error
    );
    // Counted where it was read from: retried from the topic and the first retry topic,
    // dead-lettered from the last.
    let counted = metrics.snapshot()["topics"].clone();
    let n = |topic: &str, what: &str| counted[topic][what].as_f64().unwrap_or(0.0);
    assert_eq!(
        (
            n("rt.jobs", "retried"),
            n("rt.jobs.retry.1s", "retried"),
            n("rt.jobs.retry.2s", "retried"),
            n("rt.jobs.retry.2s", "dead_lettered"),
        ),
        (1.0, 1.0, 0.0, 1.0),
        "{counted}"
    );
    kit.close().await
}

#[tokio::test]
async fn a_record_that_passes_on_a_retry_is_handled_once_due_and_committed()
-> Result<(), kafka_utils::Error> {
    let kit = TestKit::start(&TOPOLOGY).await?;
    let attempts: Attempts = Arc::default();
    let running = kit.run(app(&kit, &attempts)?)?;
    kit.send_record(topics::Jobs, Record::new(&job(0, 1)).key(&1u32))
        .await?;
    running.settle().await?;
    running.stop().await?;
    let tried = of(&attempts, 0);
    let topics: Vec<&str> = tried.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(topics, ["rt.jobs", "rt.jobs.retry.1s"]);
    let waited = tried[1].1 - tried[0].1;
    assert!(
        waited >= Duration::from_secs(1) && waited < Duration::from_secs(2),
        "handled again after {waited:?}: its delay is 1 s"
    );
    kit.dead_letters(topics::Jobs).await?.assert_count(0);
    kit.close().await
}

#[tokio::test]
async fn a_permanent_failure_skips_the_retry_topics() -> Result<(), kafka_utils::Error> {
    let kit = TestKit::start(&TOPOLOGY).await?;
    let attempts: Attempts = Arc::default();
    let running = kit.run(app(&kit, &attempts)?)?;
    let doomed = Job {
        seq: 0,
        failures: u32::MAX,
        permanent: true,
    };
    kit.send_record(topics::Jobs, Record::new(&doomed).key(&1u32))
        .await?;
    running.settle().await?;
    running.stop().await?;
    assert_eq!(of(&attempts, 0).len(), 1);
    let dead = kit.dead_letters(topics::Jobs).await?;
    dead.assert_count(1);
    assert_eq!(
        (dead[0].info.reason, dead[0].info.attempts),
        (Reason::Permanent, 1)
    );
    assert_eq!(RetryInfo::from_headers(&dead[0].headers), None);
    kit.close().await
}

#[tokio::test]
async fn retried_in_place_a_failing_record_keeps_its_keys_order_and_holds_only_its_key()
-> Result<(), kafka_utils::Error> {
    let kit = TestKit::start(&TOPOLOGY).await?;
    let attempts: Attempts = Arc::default();
    let app = app(&kit, &attempts)?
        .ordering(Ordering::Key)
        .retry_in_place(topics::Jobs);
    let running = kit.run(app)?;
    // Job 0 fails twice, then passes; job 1 has its key, job 2 another.
    for (seq, failures, key) in [(0, 2, 1u32), (1, 0, 1), (2, 0, 2)] {
        kit.send_record(topics::Jobs, Record::new(&job(seq, failures)).key(&key))
            .await?;
    }
    running.settle().await?;
    running.stop().await?;
    let tried = of(&attempts, 0);
    let topics: Vec<&str> = tried.iter().map(|(t, _)| t.as_str()).collect();
    // In place, waiting the retry topics' delays (1 s, 2 s); nothing went to them.
    assert_eq!(topics, ["rt.jobs", "rt.jobs", "rt.jobs"]);
    assert!(
        tried[1].1 - tried[0].1 >= Duration::from_secs(1),
        "{tried:?}"
    );
    assert!(
        tried[2].1 - tried[1].1 >= Duration::from_secs(2),
        "{tried:?}"
    );
    // Its key's next record waited for it; the other key did not.
    let same_key = of(&attempts, 1);
    assert_eq!(same_key.len(), 1);
    assert!(same_key[0].1 >= tried[2].1, "job 1 ran before job 0 passed");
    let other_key = of(&attempts, 2);
    assert_eq!(other_key.len(), 1);
    assert!(
        other_key[0].1 < tried[1].1,
        "job 2 waited for job 0's retry"
    );
    kit.dead_letters(topics::Jobs).await?.assert_count(0);
    kit.close().await
}

#[tokio::test]
async fn retry_in_place_of_a_topic_without_retry_topics_is_refused_naming_it()
-> Result<(), kafka_utils::Error> {
    let kit = TestKit::start(&TOPOLOGY).await?;
    let attempts: Attempts = Arc::default();
    let app = app(&kit, &attempts)?.retry_in_place(topics::JobsDlq);
    let error = app.run_until(async {}).await.unwrap_err().to_string();
    assert!(
        error.contains("App::retry_in_place(`rt.jobs.dlq`)")
            && error.contains("declares no retry topics"),
        "{error}"
    );
    kit.close().await
}
