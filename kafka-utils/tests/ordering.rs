//! The app's orderings ([`Ordering::Key`], [`Ordering::Unordered`]) and their window, with
//! the test kit: on the embedded cluster, or on the cluster of `KAFKA_BOOTSTRAP_SERVERS`
//! (`scripts/test.sh` runs this binary both ways).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering as Atomic};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kafka_utils::app::Retry;
use kafka_utils::prelude::*;
use kafka_utils::testing::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub key: u32,
    pub seq: u32,
}

#[derive(Debug, KafkaTopics)]
pub enum Topics {
    #[topic(name = "ord.events", message = Event, key = u32, partitions = 2,
            dead_letter = EventsDlq)]
    Events,
    #[topic(name = "ord.events.dlq", message = Event)]
    EventsDlq,
    /// One partition: the window's order is the topic's.
    #[topic(name = "ord.single", message = Event, key = u32, dead_letter = EventsDlq)]
    Single,
}

#[derive(Debug, KafkaUsers)]
pub enum Users {
    #[user(name = "ord", groups = ["ord"])]
    Ord,
}

permissions! {
    Users::Ord => {
        Topics::Events => [Read, Write, AutoCommitOffset],
        Topics::Single => [Read, Write, AutoCommitOffset],
        Topics::EventsDlq => [Write],
    },
}

/// What the handlers saw: each record as it finished, handlers of each key and of each
/// partition at once (now and the most), and same-key overlaps.
#[derive(Default)]
struct Seen {
    finished: Mutex<Vec<(u32, u32)>>,
    per_key: Mutex<HashMap<u32, usize>>,
    overlaps: AtomicUsize,
    per_partition: Mutex<HashMap<i32, (usize, usize)>>,
}

impl Seen {
    fn enter(&self, key: u32, partition: i32) {
        let mut keys = self.per_key.lock().unwrap();
        let running = keys.entry(key).or_default();
        if *running > 0 {
            self.overlaps.fetch_add(1, Atomic::Relaxed);
        }
        *running += 1;
        let mut partitions = self.per_partition.lock().unwrap();
        let (now, most) = partitions.entry(partition).or_default();
        *now += 1;
        *most = (*most).max(*now);
    }

    fn leave(&self, event: Event, partition: i32) {
        *self.per_key.lock().unwrap().get_mut(&event.key).unwrap() -= 1;
        self.per_partition
            .lock()
            .unwrap()
            .get_mut(&partition)
            .unwrap()
            .0 -= 1;
        self.finished.lock().unwrap().push((event.key, event.seq));
    }

    /// The most handlers any one partition ran at once.
    fn most_in_a_partition(&self) -> usize {
        let partitions = self.per_partition.lock().unwrap();
        partitions
            .values()
            .map(|(_, most)| *most)
            .max()
            .unwrap_or(0)
    }

    fn finished(&self) -> Vec<(u32, u32)> {
        self.finished.lock().unwrap().clone()
    }
}

/// What [`noting`]'s handler returns.
type Handled = std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>>;

/// A handler that takes a millisecond or two (by key and sequence), as a call to a database
/// does, and notes what it saw.
fn noting(
    seen: &Arc<Seen>,
) -> impl Fn(Event, Context<users::Ord>) -> Handled + Send + Sync + 'static {
    let seen = Arc::clone(seen);
    move |event: Event, ctx: Context<users::Ord>| {
        let seen = Arc::clone(&seen);
        Box::pin(async move {
            seen.enter(event.key, ctx.partition);
            let wait = 1 + u64::from((event.key * 7 + event.seq) % 3);
            tokio::time::sleep(Duration::from_millis(wait)).await;
            seen.leave(event, ctx.partition);
            Ok(())
        })
    }
}

/// Sends `seqs` records for each of `keys` keys, sequence by sequence (every key's first,
/// then every key's second, ...), to `topic`, without waiting for each.
async fn send_keyed<T>(
    kit: &TestKit,
    topic: T,
    keys: u32,
    seqs: u32,
) -> Result<(), kafka_utils::Error>
where
    T: Topic<Message = Event, Key = u32> + kafka_utils::access::WritableBy<users::Ord>,
{
    let producer = Producer::<users::Ord>::new(kit.settings())?;
    let mut deliveries = Vec::new();
    for seq in 0..seqs {
        for key in 0..keys {
            let event = Event { key, seq };
            deliveries.push(
                producer
                    .send_record(topic, Record::new(&event).key(&key))
                    .await?,
            );
        }
    }
    for delivery in deliveries {
        delivery.await?;
    }
    producer.close().await
}

/// Each key's sequence numbers, in the order they finished.
fn by_key(finished: &[(u32, u32)]) -> BTreeMap<u32, Vec<u32>> {
    let mut keys: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for (key, seq) in finished {
        keys.entry(*key).or_default().push(*seq);
    }
    keys
}

#[tokio::test]
async fn key_ordering_handles_each_key_in_order_and_different_keys_at_once()
-> Result<(), kafka_utils::Error> {
    let kit = TestKit::start(&TOPOLOGY).await?;
    let seen = Arc::new(Seen::default());
    let app = App::<users::Ord>::new(kit.settings())?
        .ordering(Ordering::Key)
        .max_in_flight(32)
        .handle(topics::Events, noting(&seen));
    let app = kit.run(app)?;
    let (keys, seqs) = (40, 15);
    send_keyed(&kit, topics::Events, keys, seqs).await?;
    app.settle().await?;
    app.stop().await?;
    let finished = seen.finished();
    assert_eq!(finished.len(), (keys * seqs) as usize, "each record once");
    for (key, order) in by_key(&finished) {
        assert_eq!(order, (0..seqs).collect::<Vec<_>>(), "key {key}'s records");
    }
    assert_eq!(
        seen.overlaps.load(Atomic::Relaxed),
        0,
        "two records of a key at once"
    );
    let most = seen.most_in_a_partition();
    println!("key ordering: at most {most} handlers at once in a partition (window 32)");
    assert!(
        most <= 32,
        "{most} handlers at once in a partition, over the window of 32"
    );
    assert!(
        most >= 4,
        "only {most} handlers at once in a partition: keys were not handled at once"
    );
    kit.close().await
}

#[tokio::test]
async fn unordered_runs_the_window_at_once_and_no_more() -> Result<(), kafka_utils::Error> {
    let kit = TestKit::start(&TOPOLOGY).await?;
    let seen = Arc::new(Seen::default());
    let app = App::<users::Ord>::new(kit.settings())?
        .ordering_topic(topics::Single, Ordering::Unordered)
        .max_in_flight(8)
        .handle(topics::Single, noting(&seen));
    let app = kit.run(app)?;
    // Every record with the same key: unordered, they still run at once.
    let producer = Producer::<users::Ord>::new(kit.settings())?;
    let mut deliveries = Vec::new();
    for seq in 0..200 {
        let event = Event { key: 1, seq };
        deliveries.push(
            producer
                .send_record(topics::Single, Record::new(&event).key(&1u32))
                .await?,
        );
    }
    for delivery in deliveries {
        delivery.await?;
    }
    app.settle().await?;
    app.stop().await?;
    let finished = seen.finished();
    assert_eq!(finished.len(), 200);
    let most = seen.most_in_a_partition();
    println!("unordered: at most {most} handlers at once (window 8)");
    assert!(most <= 8, "{most} handlers at once, over the window of 8");
    assert!(most >= 2, "one record at a time: not unordered");
    producer.close().await?;
    kit.close().await
}

#[tokio::test]
async fn nothing_past_an_unfinished_record_is_committed_and_the_window_bounds_what_repeats()
-> Result<(), kafka_utils::Error> {
    one_record_unfinished(0).await
}

/// The records before the unfinished one are through at once, each as it comes (with nothing
/// unfinished before them they take no slot of the window): committed, and none past it.
#[tokio::test]
async fn records_through_before_an_unfinished_one_are_committed_and_none_past_it()
-> Result<(), kafka_utils::Error> {
    one_record_unfinished(5).await
}

/// Sends 21 records of different keys to a window of 8 whose handler never finishes record
/// `blocked`: the records before it and the 7 after it are handled, then a stop; the next
/// run receives every record from `blocked` on, and no other.
async fn one_record_unfinished(blocked: u32) -> Result<(), kafka_utils::Error> {
    let kit = TestKit::start(&TOPOLOGY).await?;
    let handled = Arc::new(Mutex::new(Vec::new()));
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let (noted, shut) = (Arc::clone(&handled), Arc::clone(&gate));
    let app = App::<users::Ord>::new(kit.settings())?
        .ordering(Ordering::Key)
        .max_in_flight(8)
        .shutdown_timeout(Duration::from_millis(300))
        .handle(
            topics::Single,
            move |event: Event, _: Context<users::Ord>| {
                let (noted, shut) = (Arc::clone(&noted), Arc::clone(&shut));
                async move {
                    if event.seq == blocked {
                        // It waits for a gate that never opens in this run.
                        let _ = shut.acquire().await;
                    }
                    noted.lock().unwrap().push(event.seq);
                    Ok::<(), String>(())
                }
            },
        );
    let app = kit.run(app)?;
    // Twenty-one records of as many keys; record `blocked` waits.
    for seq in 0..=20u32 {
        kit.send_record(
            topics::Single,
            Record::new(&Event { key: seq, seq }).key(&seq),
        )
        .await?;
    }
    // The window (8) holds the blocked record and 7 after it: those 7 are handled, no more.
    let expected: Vec<u32> = (0..blocked).chain(blocked + 1..=blocked + 7).collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while handled.lock().unwrap().len() < expected.len() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the window's 7 were not handled"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(*handled.lock().unwrap(), expected, "past a full window");
    // Not settled: the first record is not finished, so nothing is committed.
    let app = app.settle_within(Duration::from_millis(300));
    assert!(
        app.settle().await.is_err(),
        "settled with a record unfinished"
    );
    // Stopped with it still waiting: abandoned at the deadline, nothing committed past it.
    app.stop().await?;

    // The next run receives every record from the blocked one on: the window's 7 repeat,
    // and no more.
    let again = Arc::new(Mutex::new(Vec::new()));
    let noted = Arc::clone(&again);
    let app = App::<users::Ord>::new(kit.settings())?.handle(
        topics::Single,
        move |event: Event, _: Context<users::Ord>| {
            noted.lock().unwrap().push(event.seq);
            async { Ok::<(), String>(()) }
        },
    );
    let app = kit.run(app)?;
    app.settle().await?;
    app.stop().await?;
    assert_eq!(*again.lock().unwrap(), (blocked..=20).collect::<Vec<u32>>());
    kit.close().await
}

#[tokio::test]
async fn a_failing_record_holds_back_only_its_own_key() -> Result<(), kafka_utils::Error> {
    let kit = TestKit::start(&TOPOLOGY).await?;
    let finished = Arc::new(Mutex::new(Vec::new()));
    let noted = Arc::clone(&finished);
    let app = App::<users::Ord>::new(kit.settings())?
        .ordering(Ordering::Key)
        .retry(Retry::new(1_000, Duration::from_millis(20)))
        .handle(
            topics::Single,
            move |event: Event, _: Context<users::Ord>| {
                let noted = Arc::clone(&noted);
                async move {
                    if event.key == 1 && event.seq == 0 {
                        // Retried until the ten other keys are through (however slowly the
                        // records come), then dead-lettered.
                        let others = noted
                            .lock()
                            .unwrap()
                            .iter()
                            .filter(|(k, _)| *k != 1)
                            .count();
                        let why = format!("event {event:?} is refused");
                        return Err(if others == 10 {
                            Fail::permanent(why)
                        } else {
                            Fail::transient(why)
                        });
                    }
                    noted.lock().unwrap().push((event.key, event.seq));
                    Ok(())
                }
            },
        );
    let app = kit.run(app)?;
    // Key 1's first (which fails until the others are through, then is dead-lettered) and
    // second, then ten other keys.
    for event in [Event { key: 1, seq: 0 }, Event { key: 1, seq: 1 }]
        .into_iter()
        .chain((2..12).map(|key| Event { key, seq: 0 }))
    {
        kit.send_record(topics::Single, Record::new(&event).key(&event.key))
            .await?;
    }
    app.settle().await?;
    app.stop().await?;
    let finished = finished.lock().unwrap().clone();
    assert_eq!(finished.len(), 11, "{finished:?}");
    assert_eq!(
        finished.last(),
        Some(&(1, 1)),
        "key 1's second record waits for its first (retried, then dead-lettered), and only it: {finished:?}"
    );
    let dead = kit.dead_letters(topics::Single).await?;
    dead.assert_count(1);
    assert_eq!(
        dead[0].value().expect("the dead letter decodes"),
        Event { key: 1, seq: 0 }
    );
    kit.close().await
}

#[tokio::test]
async fn a_window_out_of_range_is_refused_naming_it() -> Result<(), kafka_utils::Error> {
    let kit = TestKit::start(&TOPOLOGY).await?;
    for bad in [0, 10_001] {
        let app = App::<users::Ord>::new(kit.settings())?
            .ordering(Ordering::Key)
            .max_in_flight(bad)
            .handle(topics::Events, |_: Event, _: Context<users::Ord>| async {
                Ok::<(), String>(())
            });
        let error = app.run_until(async {}).await.unwrap_err().to_string();
        assert!(
            error.contains(&format!("max_in_flight is {bad}")) && error.contains("1 to 10000"),
            "{error}"
        );
    }
    kit.close().await
}

/// What an app finished is committed soon, not every `auto.commit.interval.ms` (after a
/// crash, what repeats is what followed the last commit): with the interval a minute long,
/// 400 records handled under each ordering are all committed within a second and a half.
#[tokio::test]
async fn finished_records_are_committed_soon_not_every_interval() -> Result<(), kafka_utils::Error>
{
    for ordering in [Ordering::Partition, Ordering::Key] {
        let kit = TestKit::start(&TOPOLOGY).await?;
        let settings = kit
            .settings()
            .clone()
            .with_client_property("auto.commit.interval.ms", "60000");
        let handled = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&handled);
        let app = App::<users::Ord>::new(&settings)?
            .ordering(ordering)
            .max_in_flight(16)
            .handle(topics::Events, move |_: Event, _: Context<users::Ord>| {
                counted.fetch_add(1, Atomic::Relaxed);
                async { Ok::<(), String>(()) }
            });
        let app = kit.run(app)?.settle_within(Duration::from_millis(1500));
        send_keyed(&kit, topics::Events, 20, 20).await?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while handled.load(Atomic::Relaxed) < 400 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{ordering}: the records were not handled"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        app.settle()
            .await
            .unwrap_or_else(|e| panic!("{ordering}: not committed soon: {e}"));
        app.stop().await?;
        kit.close().await?;
    }
    Ok(())
}
