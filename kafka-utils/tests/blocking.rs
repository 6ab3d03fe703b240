//! Nothing that can block runs on a tokio worker thread: on a current-thread runtime whose
//! ticker fires every 10 ms, no gap between ticks exceeds 100 ms across a rebalance whose
//! commit is slow, a consumer's close and drop with the broker down, and a producer's close
//! and drop with records the broker never took. On the embedded cluster, whose controls
//! (which wait for the cluster's own thread) run off the runtime, as its docs ask.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kafka_utils::consumer::Consumer;
use kafka_utils::embedded::EmbeddedCluster;
use kafka_utils::prelude::*;
use kafka_utils::producer::Producer;
use kafka_utils::settings::Settings;

#[derive(Debug, KafkaTopics)]
pub enum Topics {
    #[topic(name = "ticks", message = u64, partitions = 2)]
    Ticks,
}

#[derive(Debug, KafkaUsers)]
pub enum Users {
    #[user(name = "ticker", groups = ["tickers"])]
    Ticker,
}

permissions! { Users::Ticker => { Topics::Ticks => [Read, Write, AutoCommitOffset] } }

/// The longest gap between 10 ms ticks on this runtime's thread, since the last `take`.
#[derive(Clone)]
struct Gaps(Arc<Mutex<Duration>>);

impl Gaps {
    fn start() -> Self {
        let gaps = Gaps(Arc::new(Mutex::new(Duration::ZERO)));
        let longest = Arc::clone(&gaps.0);
        tokio::spawn(async move {
            let mut last = Instant::now();
            loop {
                tokio::time::sleep(Duration::from_millis(10)).await;
                let now = Instant::now();
                let mut longest = longest.lock().unwrap();
                *longest = (*longest).max(now - last);
                last = now;
            }
        });
        gaps
    }

    fn take(&self) -> Duration {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

const LONGEST: Duration = Duration::from_millis(100);

/// Runs `control` on the embedded cluster off the runtime's thread.
async fn control(
    cluster: &Arc<EmbeddedCluster>,
    control: impl FnOnce(&EmbeddedCluster) -> Result<(), kafka_utils::Error> + Send + 'static,
) {
    let cluster = Arc::clone(cluster);
    tokio::task::spawn_blocking(move || control(&cluster))
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_rebalance_a_consumer_close_and_a_producer_close_never_block_the_runtime() {
    let cluster = Arc::new(EmbeddedCluster::start(1).unwrap());
    cluster.create_topic("ticks", 2).unwrap();
    let settings = Settings::new(cluster.bootstrap_servers())
        .with_auto_commit(false)
        .with_client_property("session.timeout.ms", "6000");
    let producer = Producer::<users::Ticker>::new(&settings).unwrap();
    for n in 0..20 {
        producer
            .send(topics::Ticks, &n)
            .await
            .unwrap()
            .await
            .unwrap();
    }
    producer.close().await.unwrap();
    let gaps = Gaps::start();

    // A rebalance whose commit takes 500 ms: the first member commits what it stored
    // before its partitions are revoked.
    let first = Consumer::<users::Ticker, u64>::builder(&settings)
        .topic(topics::Ticks)
        .build()
        .unwrap();
    let record = tokio::time::timeout(Duration::from_secs(15), first.recv())
        .await
        .expect("joined")
        .unwrap();
    first.ack(&record).unwrap();
    gaps.take();
    control(&cluster, |c| {
        c.round_trip_time(-1, Duration::from_millis(500))
    })
    .await;
    let second = Consumer::<users::Ticker, u64>::builder(&settings)
        .topic(topics::Ticks)
        .build()
        .unwrap();
    // Both members receive through the rebalance (the first serves its revoke meanwhile).
    let both = async {
        let _ = tokio::join!(
            tokio::time::timeout(Duration::from_secs(10), async {
                while first.recv().await.is_ok() {}
            }),
            tokio::time::timeout(Duration::from_secs(10), second.recv()),
        );
    };
    both.await;
    let rebalance = gaps.take();

    // A close that commits through a slow broker, and a drop with the broker down.
    let _ = first.close().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    control(&cluster, |c| c.round_trip_time(-1, Duration::ZERO)).await;
    control(&cluster, |c| c.broker_down(-1)).await;
    drop(second);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let consumer_close = gaps.take();

    // Producers closed and dropped with a record the broker never takes.
    let stranded = settings
        .clone()
        .with_client_property("message.timeout.ms", "3000");
    let closed = Producer::<users::Ticker>::new(&stranded).unwrap();
    let dropped = Producer::<users::Ticker>::new(&stranded).unwrap();
    let _pending = closed.send(topics::Ticks, &99).await.unwrap();
    let _pending = dropped.send(topics::Ticks, &99).await.unwrap();
    gaps.take();
    let _ = tokio::time::timeout(Duration::from_millis(200), closed.close()).await;
    drop(dropped);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let producer_close = gaps.take();
    control(&cluster, |c| c.broker_up(-1)).await;

    println!(
        "longest gaps: rebalance {rebalance:?}, consumer close {consumer_close:?}, \
         producer close {producer_close:?}"
    );
    assert!(
        rebalance <= LONGEST,
        "a rebalance blocked the runtime for {rebalance:?}"
    );
    assert!(
        consumer_close <= LONGEST,
        "a consumer's close blocked the runtime for {consumer_close:?}"
    );
    assert!(
        producer_close <= LONGEST,
        "a producer's close blocked the runtime for {producer_close:?}"
    );
}
