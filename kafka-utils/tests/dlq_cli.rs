//! `dlq list`, `dlq show` and `dlq replay` of the admin command line, with the test kit: on
//! the embedded cluster, or on the cluster of `KAFKA_BOOTSTRAP_SERVERS` (`scripts/test.sh`
//! runs this binary both ways).

use kafka_utils::admin::cli::{Command, run};
use kafka_utils::admin::{MOST_REPLAYS, REPLAY_HEADER};
use kafka_utils::dead_letter::Reason;
use kafka_utils::prelude::*;
use kafka_utils::testing::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    pub id: u64,
    pub bad: bool,
}

#[derive(Debug, KafkaTopics)]
pub enum Topics {
    #[topic(name = "dlqcli.orders", message = Order, key = u64, partitions = 1, dead_letter = OrdersDlq)]
    Orders,
    #[topic(name = "dlqcli.orders.dlq", message = Order, partitions = 1)]
    OrdersDlq,
}

#[derive(Debug, KafkaUsers)]
pub enum Users {
    #[user(name = "dlqcli", groups = ["dlqcli"])]
    Shop,
}

permissions! {
    Users::Shop => {
        Topics::Orders => [Read, Write, AutoCommitOffset],
        Topics::OrdersDlq => [Read, Write],
    },
}

/// Runs the command line `args` on the kit's cluster: what it printed.
async fn cli(kit: &TestKit, args: &[&str]) -> Result<String, kafka_utils::Error> {
    let command = Command::parse(args)?;
    let mut out = Vec::new();
    run(&TOPOLOGY, command, kit.settings(), &mut out).await?;
    Ok(String::from_utf8(out).expect("UTF-8 output"))
}

/// An app that fails every bad order for good (and cannot decode what is not an order).
fn app(kit: &TestKit) -> Result<App<users::Shop>, kafka_utils::Error> {
    Ok(App::<users::Shop>::new(kit.settings())?
        .group("dlqcli")
        .handle(
            topics::Orders,
            |order: Order, _: Context<users::Shop>| async move {
                if order.bad {
                    return Err(Fail::permanent(format!("order {} is bad", order.id)));
                }
                Ok(())
            },
        ))
}

const GARBAGE: &[u8] = b"\xff\x00 not an order";

#[tokio::test]
async fn dead_letters_are_listed_shown_and_replayed_byte_for_byte_until_the_bound()
-> Result<(), kafka_utils::Error> {
    let kit = TestKit::start(&TOPOLOGY).await?;
    let running = kit.run(app(&kit)?)?;
    let bad = Order { id: 2, bad: true };
    kit.send(topics::Orders, &Order { id: 1, bad: false })
        .await?;
    kit.send_bytes(topics::Orders, Some(b"9"), GARBAGE).await?;
    kit.send_record(
        topics::Orders,
        Record::new(&bad).key(&2u64).header("trace", "t-2"),
    )
    .await?;
    running.settle().await?;

    let listed = cli(&kit, &["dlq", "list", "dlqcli.orders"]).await?;
    assert!(
        listed.contains("2 dead letter(s) in `dlqcli.orders.dlq`"),
        "{listed}"
    );
    assert!(
        listed.contains("| decode | 0 |") && listed.contains("| permanent | 1 |"),
        "{listed}"
    );
    let decoded = cli(
        &kit,
        &["dlq", "list", "dlqcli.orders.dlq", "--reason", "decode"],
    )
    .await?;
    assert!(decoded.contains("1 dead letter(s)"), "{decoded}");
    let refused = cli(&kit, &["dlq", "list", "dlqcli.orders", "--reason", "bogus"])
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("decode, schema, handler, panic, permanent"),
        "{refused}"
    );
    let unknown = cli(&kit, &["dlq", "list", "nope"])
        .await
        .unwrap_err()
        .to_string();
    assert!(unknown.contains("`dlqcli.orders.dlq`"), "{unknown}");

    let dead = kit.dead_letters(topics::Orders).await?;
    let (first, second) = (&dead[0], &dead[1]);
    let shown = cli(
        &kit,
        &[
            "dlq",
            "show",
            "dlqcli.orders",
            &first.at.1.to_string(),
            "--partition",
            &first.at.0.to_string(),
            "--json",
        ],
    )
    .await?;
    let shown: serde_json::Value = serde_json::from_str(&shown).expect("JSON");
    assert_eq!(shown["reason"], "decode");
    assert_eq!(shown["key"], "9");
    assert_eq!(shown["payload"]["hex"], "ff00206e6f7420616e206f72646572");

    // A dry run sends nothing.
    let dry = cli(&kit, &["dlq", "replay", "dlqcli.orders", "--dry-run"]).await?;
    assert!(dry.contains("would replay 2 dead letter(s)"), "{dry}");
    running.settle().await?;
    kit.dead_letters(topics::Orders).await?.assert_count(2);

    // Each replay sends the dead letters that came since the last, and the app dead-letters
    // them again, byte for byte, with their replay count.
    for replay in 1..=MOST_REPLAYS {
        let replayed = cli(&kit, &["dlq", "replay", "dlqcli.orders"]).await?;
        assert!(
            replayed.contains(
                "replayed 2 dead letter(s) of `dlqcli.orders.dlq` to `dlqcli.orders` (2)"
            ),
            "{replayed}"
        );
        running.settle().await?;
        let dead = kit.dead_letters(topics::Orders).await?;
        dead.assert_count(2 + 2 * replay as usize);
        let again = &dead[dead.len() - 2..];
        for (letter, before) in again.iter().zip([first, second]) {
            assert_eq!(letter.payload, before.payload, "the payload, byte for byte");
            assert_eq!(letter.key, before.key);
            let count = replay.to_string();
            assert_eq!(header(letter, REPLAY_HEADER), Some(count.as_bytes()));
            // One set of dead-letter headers: the replay dropped the old ones.
            let reasons = letter
                .headers
                .iter()
                .filter(|(k, _)| k == "kafka-utils.dlq.reason");
            assert_eq!(reasons.count(), 1);
        }
        assert_eq!(again[0].info.reason, Reason::Decode);
        assert_eq!(header(&again[1], "trace"), Some(&b"t-2"[..]));
    }
    // Replayed as often as allowed: refused, not looped; and nothing is left to replay.
    let refused = cli(&kit, &["dlq", "replay", "dlqcli.orders"]).await?;
    assert!(
        refused.contains("replayed 0 dead letter(s)") && refused.contains("refused 2;"),
        "{refused}"
    );
    assert!(
        refused.contains(&format!("replayed {MOST_REPLAYS} times already")),
        "{refused}"
    );
    let nothing = cli(&kit, &["dlq", "replay", "dlqcli.orders"]).await?;
    assert!(
        nothing.contains("replayed 0 dead letter(s)") && nothing.contains("refused 0;"),
        "{nothing}"
    );
    running.stop().await?;
    kit.close().await
}

fn header<'a>(letter: &'a DeadLetter<Order>, name: &str) -> Option<&'a [u8]> {
    letter
        .headers
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .and_then(|(_, v)| v.as_deref())
}
