//! The test kit, as a service's tests use it: on the embedded cluster, or (with
//! `KAFKA_BOOTSTRAP_SERVERS` set) on that cluster, the same tests. `scripts/test.sh` runs
//! this binary both ways.
//!
//! Each test prints what it measured (`--nocapture` shows it): the kit's start, and 1,000
//! records through an app until they are all committed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kafka_utils::dead_letter::Reason;
use kafka_utils::prelude::*;
use kafka_utils::testing::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    pub id: u64,
    pub cents: u64,
}

#[derive(Debug, KafkaTopics)]
pub enum Topics {
    /// Orders, with their dead letter.
    #[topic(name = "kit.orders", message = Order, key = u64, partitions = 3,
            dead_letter = OrdersDlq)]
    Orders,
    /// Orders the shop could not take.
    #[topic(name = "kit.orders.dlq", message = Order)]
    OrdersDlq,
    /// What was taken.
    #[topic(name = "kit.receipts", message = u64, partitions = 2)]
    Receipts,
    /// Notes, with no dead letter: a note the app cannot handle stops it.
    #[topic(name = "kit.notes", message = String)]
    Notes,
}

#[derive(Debug, KafkaUsers)]
pub enum Users {
    #[user(name = "shop", groups = ["shop"])]
    Shop,
}

permissions! {
    Users::Shop => {
        Topics::Orders => [Read, AutoCommitOffset],
        Topics::OrdersDlq => [Write],
        Topics::Receipts => [Write],
        Topics::Notes => [Read, AutoCommitOffset],
    },
}

/// Takes an order (a receipt with its id), refuses one over 100 €.
async fn take(order: Order, ctx: Context<users::Shop>) -> Result<(), String> {
    if order.cents > 10_000 {
        return Err(format!("order {} is over 100 €", order.id));
    }
    let delivery = ctx.producer().send(topics::Receipts, &order.id).await;
    delivery
        .map_err(|e| e.to_string())?
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// An app that counts the orders it handles.
fn counting_app(kit: &TestKit) -> Result<(App<users::Shop>, Arc<AtomicUsize>), kafka_utils::Error> {
    let handled = Arc::new(AtomicUsize::new(0));
    let counting = Arc::clone(&handled);
    let app = App::<users::Shop>::new(kit.settings())?.handle(
        topics::Orders,
        move |_: Order, _: Context<users::Shop>| {
            counting.fetch_add(1, Ordering::Relaxed);
            async { Ok::<(), String>(()) }
        },
    );
    Ok((app, handled))
}

fn order(id: u64) -> Order {
    Order {
        id,
        cents: 100 * id,
    }
}

#[tokio::test]
async fn a_handler_test_reads_back_what_the_app_sent() -> Result<(), kafka_utils::Error> {
    let kit = TestKit::start(&TOPOLOGY).await?;
    let app = kit.run(App::<users::Shop>::new(kit.settings())?.handle(topics::Orders, take))?;
    for id in 1..=3 {
        kit.send_record(topics::Orders, Record::new(&order(id)).key(&id))
            .await?;
    }
    app.settle().await?;
    let receipts = kit.read(topics::Receipts).await?;
    receipts.assert_values_unordered(&[1, 2, 3]);
    assert_eq!(receipts.topic(), "kit.receipts");
    kit.dead_letters(topics::Orders).await?.assert_count(0);
    app.stop().await?;
    kit.close().await
}

#[tokio::test]
async fn settling_means_every_record_sent_is_handled_and_committed()
-> Result<(), kafka_utils::Error> {
    let started = Instant::now();
    let kit = TestKit::start(&TOPOLOGY).await?;
    let kit_started = started.elapsed();
    let (app, handled) = counting_app(&kit)?;
    let started = Instant::now();
    let app = kit.run(app)?;
    let sent = 1_000u64;
    // The kit's own sends, each acknowledged: as fast as one at a time goes.
    for id in 0..sent {
        kit.send_record(topics::Orders, Record::new(&order(id)).key(&id))
            .await?;
    }
    app.settle().await?;
    let settled = started.elapsed();
    // Exact: settled means every one of them was handled, never fewer.
    assert_eq!(handled.load(Ordering::Relaxed), sent as usize);
    println!(
        "testkit ({}): TestKit::start {kit_started:?}; {sent} records sent, handled and \
         committed in {settled:?}",
        if kit.is_embedded() {
            "embedded"
        } else {
            "real cluster"
        }
    );
    app.stop().await
}

#[tokio::test]
async fn an_app_run_again_in_the_same_group_takes_over_at_once() -> Result<(), kafka_utils::Error> {
    let kit = TestKit::start(&TOPOLOGY).await?;
    let (first, handled) = counting_app(&kit)?;
    let first = kit.run(first)?;
    kit.send(topics::Orders, &order(1)).await?;
    first.settle().await?;
    first.stop().await?;
    // The group is empty now; the next app of the group gets its partitions at once (the
    // embedded cluster waits for a member's session timeout before it rebalances an
    // emptied group: the kit's consumers keep it short).
    let (second, handled_again) = counting_app(&kit)?;
    let started = Instant::now();
    let second = kit.run(second)?.settle_within(Duration::from_secs(10));
    kit.send(topics::Orders, &order(2)).await?;
    second.settle().await?;
    println!(
        "testkit: the second app of the group settled in {:?}",
        started.elapsed()
    );
    second.stop().await?;
    assert_eq!(
        (
            handled.load(Ordering::Relaxed),
            handled_again.load(Ordering::Relaxed)
        ),
        (1, 1)
    );
    kit.close().await
}

#[tokio::test]
async fn failing_and_undecodable_records_are_in_the_dead_letters_with_why()
-> Result<(), kafka_utils::Error> {
    let kit = TestKit::start(&TOPOLOGY).await?;
    let app = kit.run(App::<users::Shop>::new(kit.settings())?.handle(topics::Orders, take))?;
    let too_much = Order {
        id: 7,
        cents: 99_999,
    };
    kit.send_record(topics::Orders, Record::new(&too_much).key(&7))
        .await?;
    kit.send_bytes(topics::Orders, None, b"{not json").await?;
    kit.send(topics::Orders, &order(8)).await?;
    app.settle().await?;
    let dead = kit.dead_letters(topics::Orders).await?;
    dead.assert_count(2);
    let refused = dead
        .iter()
        .find(|d| d.info.reason == Reason::Handler)
        .expect("the refused order");
    assert_eq!(refused.value().expect("an order"), too_much);
    assert!(
        refused
            .info
            .error
            .ends_with("failed: order 7 is over 100 €"),
        "{}",
        refused.info.error
    );
    assert_eq!(refused.info.topic, "kit.orders");
    assert_eq!(refused.info.attempts, 3);
    let garbled = dead
        .iter()
        .find(|d| d.info.reason == Reason::Decode)
        .expect("the garbled record");
    assert_eq!(garbled.payload.as_deref(), Some(&b"{not json"[..]));
    assert!(garbled.value().is_err());
    kit.read(topics::Receipts).await?.assert_values(&[8]);
    app.stop().await
}

#[tokio::test]
async fn a_permanent_failure_goes_to_the_dead_letter_without_another_attempt()
-> Result<(), kafka_utils::Error> {
    let kit = TestKit::start(&TOPOLOGY).await?;
    // Attempts per order id.
    let tries = Arc::new(std::sync::Mutex::new(std::collections::BTreeMap::new()));
    let counting = Arc::clone(&tries);
    let app = App::<users::Shop>::new(kit.settings())?.handle(
        topics::Orders,
        move |order: Order, _: Context<users::Shop>| {
            *counting.lock().unwrap().entry(order.id).or_insert(0) += 1;
            async move {
                match order.id {
                    1 => Err(Fail::permanent(format!(
                        "order {} has no customer",
                        order.id
                    ))),
                    2 => Err(Fail::transient("the stock service is down")),
                    _ => Ok(()),
                }
            }
        },
    );
    let app = kit.run(app)?;
    for id in 1..=3 {
        kit.send_record(topics::Orders, Record::new(&order(id)).key(&id))
            .await?;
    }
    app.settle().await?;
    app.stop().await?;
    let tries = tries.lock().unwrap().clone();
    assert_eq!(tries, [(1, 1), (2, 3), (3, 1)].into_iter().collect());
    let dead = kit.dead_letters(topics::Orders).await?;
    dead.assert_count(2);
    let permanent = dead
        .iter()
        .find(|d| d.info.reason == Reason::Permanent)
        .expect("the permanent failure");
    assert_eq!(permanent.value().expect("an order").id, 1);
    assert_eq!(permanent.info.attempts, 1);
    assert!(
        permanent.info.error.ends_with("order 1 has no customer"),
        "{}",
        permanent.info.error
    );
    let transient = dead
        .iter()
        .find(|d| d.info.reason == Reason::Handler)
        .expect("the transient failure");
    assert_eq!(
        (
            transient.value().expect("an order").id,
            transient.info.attempts
        ),
        (2, 3)
    );
    kit.close().await
}

#[tokio::test]
async fn a_settle_that_cannot_happen_says_what_is_behind() -> Result<(), kafka_utils::Error> {
    let kit = TestKit::start(&TOPOLOGY).await?;
    // A handler that never finishes order 2.
    let app = App::<users::Shop>::new(kit.settings())?
        .shutdown_timeout(Duration::from_millis(100))
        .handle(
            topics::Orders,
            |order: Order, _: Context<users::Shop>| async move {
                if order.id == 2 {
                    std::future::pending::<()>().await;
                }
                Ok::<(), String>(())
            },
        );
    let app = kit.run(app)?.settle_within(Duration::from_secs(2));
    kit.send_record(topics::Orders, Record::new(&order(2)).key(&2))
        .await?;
    let error = app
        .settle()
        .await
        .expect_err("order 2 is never handled")
        .to_string();
    assert!(error.contains("did not settle within 2s"), "{error}");
    assert!(error.contains("`kit.orders`/"), "{error}");
    assert!(error.contains("committed nothing, ends at 1"), "{error}");
    app.stop().await
}

#[tokio::test]
async fn an_app_that_stops_on_a_record_fails_the_settle_with_its_error()
-> Result<(), kafka_utils::Error> {
    let kit = TestKit::start(&TOPOLOGY).await?;
    let app = App::<users::Shop>::new(kit.settings())?
        .retry(kafka_utils::app::Retry::new(2, Duration::ZERO))
        .handle(topics::Notes, |_: String, _: Context<users::Shop>| async {
            Err::<(), _>("no ink".to_string())
        });
    let app = kit.run(app)?;
    kit.send(topics::Notes, &"hello".to_string()).await?;
    let error = app
        .settle()
        .await
        .expect_err("the app stops on the note")
        .to_string();
    assert!(error.contains("the app of user `shop` ended"), "{error}");
    assert!(error.contains("no ink"), "{error}");
    // Stopping an app that already ended says how it ended.
    assert!(app.stop().await.is_err());
    Ok(())
}

#[tokio::test]
async fn kits_side_by_side_see_only_their_own_records() -> Result<(), kafka_utils::Error> {
    let (a, b) = (
        TestKit::start(&TOPOLOGY).await?,
        TestKit::start(&TOPOLOGY).await?,
    );
    a.send(topics::Receipts, &1).await?;
    b.send(topics::Receipts, &2).await?;
    a.read(topics::Receipts).await?.assert_values(&[1]);
    b.read(topics::Receipts).await?.assert_values(&[2]);
    if a.is_embedded() {
        assert_eq!(a.cluster_name(topics::Receipts), "kit.receipts");
        assert_ne!(
            a.settings().bootstrap_servers,
            b.settings().bootstrap_servers
        );
    } else {
        // One cluster: each kit's topics under a prefix of its own.
        let (na, nb) = (
            a.cluster_name(topics::Receipts),
            b.cluster_name(topics::Receipts),
        );
        assert!(
            na.starts_with("kafka-utils-test.") && na.ends_with(".kit.receipts"),
            "{na}"
        );
        assert_ne!(na, nb);
    }
    Ok(())
}

#[tokio::test]
async fn a_kit_on_a_real_cluster_deletes_its_topics() -> Result<(), kafka_utils::Error> {
    let kit = TestKit::start(&TOPOLOGY).await?;
    if kit.is_embedded() {
        // Nothing to delete: the embedded cluster goes with the kit.
        assert!(kit.faults().is_ok());
        return Ok(());
    }
    assert!(kit.faults().is_err());
    let name = kit.cluster_name(topics::Orders);
    let settings = kit.settings().clone();
    let admin = kafka_utils::acl::admin_client(&settings)?;
    let exists = |admin: &kafka_utils::acl::AdminClient| {
        admin
            .inner()
            .fetch_metadata(Some(&name), Duration::from_secs(10))
            .map(|m| {
                m.topics()
                    .iter()
                    .any(|t| t.error().is_none() && !t.partitions().is_empty())
            })
            .unwrap_or(false)
    };
    assert!(exists(&admin), "`{name}` should exist while the kit lives");
    kit.close().await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while exists(&admin) {
        assert!(
            Instant::now() < deadline,
            "`{name}` was not deleted with its kit"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

#[tokio::test]
async fn a_produce_refused_for_a_while_is_retried_and_delivered() -> Result<(), kafka_utils::Error>
{
    // Faults come from the embedded cluster, whatever the environment says.
    let kit = TestKit::embedded(&TOPOLOGY).await?;
    kit.faults()?.fail_requests(
        ApiKey::Produce,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS; 3],
    );
    let delivered = kit.send(topics::Receipts, &5).await?;
    assert_eq!(delivered.topic, "kit.receipts");
    kit.read(topics::Receipts).await?.assert_values(&[5]);
    Ok(())
}

#[tokio::test]
async fn commits_refused_for_a_while_delay_the_settle_but_lose_nothing()
-> Result<(), kafka_utils::Error> {
    let kit = TestKit::embedded(&TOPOLOGY).await?;
    let (app, handled) = counting_app(&kit)?;
    let app = kit.run(app)?;
    // The coordinator refuses the next commits; the app's later ones get through.
    kit.faults()?.fail_requests(
        ApiKey::OffsetCommit,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT; 5],
    );
    // Every answer of the broker comes 20 ms late.
    kit.faults()?
        .round_trip_time(-1, Duration::from_millis(20))?;
    for id in 0..20 {
        kit.send_record(topics::Orders, Record::new(&order(id)).key(&id))
            .await?;
    }
    app.settle().await?;
    assert_eq!(handled.load(Ordering::Relaxed), 20);
    app.stop().await
}
