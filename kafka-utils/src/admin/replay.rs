//! `dlq replay`: dead letters back to the topic they came from, byte for byte (key, payload,
//! their own headers without the `kafka-utils.dlq.*` ones, and a replay count). The progress
//! is the committed offset of a consumer group of the replay's own
//! (`kafka-utils-dlq-replay.<dead letter>`, and `.<reason>` with `--reason`): the dead
//! letters go in batches of at most [`IN_FLIGHT`] publishes, each batch acknowledged and its
//! progress committed before the next is sent, so a replay killed midway and run again
//! re-sends at most one batch. A record replayed [`MOST_REPLAYS`] times already is refused,
//! not looped.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::time::Duration;

use futures::stream::{FuturesOrdered, StreamExt as _};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer as _};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::json;

use super::dlq::{self, Letter};
use crate::Error;
use crate::dead_letter;
use crate::settings::Settings;
use crate::topology::Topology;

/// The header that counts a record's replays.
pub const REPLAY_HEADER: &str = "kafka-utils.replay.count";

/// A record replayed this many times already is refused.
pub const MOST_REPLAYS: u32 = 3;

/// At most this many publishes wait for their acknowledgement at once, and for the commit of
/// the replay's progress: what a replay killed midway may send twice.
const IN_FLIGHT: usize = 64;

/// How long a publish may wait in the producer's queue.
const SEND_TIMEOUT: Duration = Duration::from_secs(60);

/// What `dlq replay` was asked.
pub(super) struct Ask<'a> {
    pub(super) topic: &'a str,
    pub(super) reason: Option<&'a str>,
    pub(super) limit: Option<usize>,
    pub(super) dry_run: bool,
    pub(super) json: bool,
}

/// What became of one dead letter.
enum Fate {
    /// Sent back to this topic, as its `n`th replay.
    Replayed(String, u32),
    /// Not sent, and why.
    Refused(String),
    /// Dead-lettered for another reason than the one asked.
    Skipped,
}

/// A publish on its way: the dead letter's place once acknowledged.
type Sending =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(i32, i64), Error>> + Send>>;

/// `dlq replay`: replays the dead letters of `ask.topic` from where the replay stands.
pub(super) async fn replay(
    topology: &Topology,
    settings: &Settings,
    ask: &Ask<'_>,
) -> Result<String, Error> {
    dlq::check_reason(ask.reason)?;
    let dead_letter = dlq::dead_letter_topic(topology, ask.topic)?;
    let group = match ask.reason {
        Some(reason) => format!("kafka-utils-dlq-replay.{dead_letter}.{reason}"),
        None => format!("kafka-utils-dlq-replay.{dead_letter}"),
    };
    let (consumer, letters) = {
        let (settings, group) = (settings.clone(), group.clone());
        tokio::task::spawn_blocking(move || {
            let consumer = dlq::consumer(&settings, &group)?;
            let from = committed(&consumer, &settings, dead_letter)?;
            let letters = dlq::read(&consumer, &settings, dead_letter, &from)?;
            Ok::<_, Error>((consumer, letters))
        })
        .await
        .map_err(|e| Error::Runtime(format!("reading dead letters: {e}")))??
    };
    let producer: Option<FutureProducer> = if ask.dry_run {
        None
    } else {
        Some(
            settings
                .producer_config()?
                .create()
                .map_err(|e| Error::kafka("creating the replay's producer", e))?,
        )
    };
    let consumer = std::sync::Arc::new(consumer);
    let cluster_name = settings.cluster_name(dead_letter).into_owned();
    let mut fates: Vec<(i32, i64, Fate)> = Vec::new();
    let mut sending: FuturesOrdered<Sending> = FuturesOrdered::new();
    // The next offset of each partition, as far as the publishes were acknowledged.
    let mut progress: BTreeMap<i32, i64> = BTreeMap::new();
    let mut replayed = 0;
    for letter in letters {
        if ask.limit.is_some_and(|n| replayed >= n) {
            break;
        }
        let fate = fate(topology, &letter, ask.reason);
        let at = (letter.partition, letter.offset);
        if let (Fate::Replayed(origin, count), Some(producer)) = (&fate, &producer) {
            let record = Outgoing::of(&letter, settings.cluster_name(origin).into_owned(), *count);
            let (producer, origin) = (producer.clone(), origin.clone());
            sending.push_back(Box::pin(async move {
                record.send(&producer, &origin, at).await.map(|()| at)
            }));
        } else {
            sending.push_back(Box::pin(async move { Ok(at) }));
        }
        if matches!(fate, Fate::Replayed(..)) {
            replayed += 1;
        }
        fates.push((letter.partition, letter.offset, fate));
        if sending.len() >= IN_FLIGHT {
            settle(&mut sending, &mut progress).await?;
            if !ask.dry_run {
                commit(&consumer, &cluster_name, &progress).await?;
            }
        }
    }
    settle(&mut sending, &mut progress).await?;
    if !ask.dry_run && !progress.is_empty() {
        commit(&consumer, &cluster_name, &progress).await?;
    }
    Ok(report(dead_letter, &group, &fates, ask))
}

/// Waits for every publish on its way; each acknowledged one moves its partition's progress
/// past its dead letter.
async fn settle(
    sending: &mut FuturesOrdered<Sending>,
    progress: &mut BTreeMap<i32, i64>,
) -> Result<(), Error> {
    while let Some(sent) = sending.next().await {
        let (partition, offset) = sent?;
        progress.insert(partition, offset + 1);
    }
    Ok(())
}

/// Commits `progress` (the next dead letter of each partition) as the replay's group, and
/// waits for it, off the runtime: the next publishes go only once it is committed, so a
/// replay killed midway re-sends at most [`IN_FLIGHT`] records.
async fn commit(
    consumer: &std::sync::Arc<BaseConsumer>,
    cluster_name: &str,
    progress: &BTreeMap<i32, i64>,
) -> Result<(), Error> {
    let mut list = TopicPartitionList::new();
    for (partition, next) in progress {
        list.add_partition_offset(cluster_name, *partition, Offset::Offset(*next))
            .map_err(|e| Error::kafka("noting the replay's progress", e))?;
    }
    let consumer = std::sync::Arc::clone(consumer);
    tokio::task::spawn_blocking(move || {
        consumer
            .commit(&list, CommitMode::Sync)
            .map_err(|e| Error::kafka("committing the replay's progress", e))
    })
    .await
    .map_err(|e| Error::Runtime(format!("committing the replay's progress: {e}")))?
}

/// Where the replay of `topic` stands: the group's committed offset per partition.
fn committed(
    consumer: &BaseConsumer,
    settings: &Settings,
    topic: &str,
) -> Result<HashMap<i32, i64>, Error> {
    let name = settings.cluster_name(topic).into_owned();
    let metadata = consumer
        .fetch_metadata(Some(&name), Duration::from_secs(30))
        .map_err(|e| Error::kafka(format!("describing topic `{topic}`"), e))?;
    let mut list = TopicPartitionList::new();
    for t in metadata.topics().iter().filter(|t| t.name() == name) {
        for p in t.partitions() {
            list.add_partition(&name, p.id());
        }
    }
    let committed = consumer
        .committed_offsets(list, Duration::from_secs(30))
        .map_err(|e| Error::kafka(format!("reading where the replay of `{topic}` stands"), e))?;
    Ok(committed
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(n) => Some((e.partition(), n)),
            _ => None,
        })
        .collect())
}

/// What to do with `letter`.
fn fate(topology: &Topology, letter: &Letter, reason: Option<&str>) -> Fate {
    if !letter.has_reason(reason) {
        return Fate::Skipped;
    }
    let Some(info) = &letter.info else {
        return Fate::Refused(format!(
            "it has no `{}*` headers: no app wrote it",
            dead_letter::HEADER_PREFIX
        ));
    };
    if topology.topic(&info.topic).is_none() {
        return Fate::Refused(format!(
            "it came from `{}`, which the topology does not declare",
            info.topic
        ));
    }
    let count = replays(letter);
    if count >= MOST_REPLAYS {
        return Fate::Refused(format!(
            "it was replayed {count} times already (at most {MOST_REPLAYS})"
        ));
    }
    Fate::Replayed(info.topic.clone(), count + 1)
}

/// How often `letter` was replayed before (its replay count header, the last one).
fn replays(letter: &Letter) -> u32 {
    // The whole name as the prefix, nothing after it.
    dead_letter::last_header(&letter.headers, REPLAY_HEADER, "")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// A dead letter as it goes back: its key and payload, its own headers and the replay count.
struct Outgoing {
    topic: String,
    key: Option<Vec<u8>>,
    payload: Option<Vec<u8>>,
    headers: Vec<(String, Option<Vec<u8>>)>,
}

impl Outgoing {
    fn of(letter: &Letter, topic: String, count: u32) -> Self {
        let mut headers: Vec<(String, Option<Vec<u8>>)> = letter
            .headers
            .iter()
            .filter(|(k, _)| !k.starts_with(dead_letter::HEADER_PREFIX) && k != REPLAY_HEADER)
            .cloned()
            .collect();
        headers.push((
            REPLAY_HEADER.to_string(),
            Some(count.to_string().into_bytes()),
        ));
        Outgoing {
            topic,
            key: letter.key.clone(),
            payload: letter.payload.clone(),
            headers,
        }
    }

    /// Publishes it and waits for the acknowledgement.
    async fn send(
        &self,
        producer: &FutureProducer,
        origin: &str,
        (partition, offset): (i32, i64),
    ) -> Result<(), Error> {
        let headers = self.headers.iter().fold(OwnedHeaders::new(), |h, (k, v)| {
            h.insert(Header {
                key: k,
                value: v.as_deref(),
            })
        });
        let mut record: FutureRecord<'_, [u8], [u8]> =
            FutureRecord::to(&self.topic).headers(headers);
        if let Some(key) = &self.key {
            record = record.key(key.as_slice());
        }
        if let Some(payload) = &self.payload {
            record = record.payload(payload.as_slice());
        }
        producer
            .send(record, SEND_TIMEOUT)
            .await
            .map(|_| ())
            .map_err(|(e, _)| {
                Error::kafka(
                    format!("replaying the dead letter at {partition}@{offset} to `{origin}`"),
                    e,
                )
            })
    }
}

/// What the replay did, as text or JSON.
fn report(dead_letter: &str, group: &str, fates: &[(i32, i64, Fate)], ask: &Ask<'_>) -> String {
    let mut to: BTreeMap<&str, usize> = BTreeMap::new();
    let (mut refused, mut skipped) = (0, 0);
    let mut lines = String::new();
    let verb = if ask.dry_run {
        "would replay"
    } else {
        "replayed"
    };
    for (partition, offset, fate) in fates {
        match fate {
            Fate::Replayed(topic, count) => {
                *to.entry(topic).or_default() += 1;
                let _ = writeln!(
                    lines,
                    "{verb} `{dead_letter}`/{partition}@{offset} to `{topic}` (replay {count})"
                );
            }
            Fate::Refused(why) => {
                refused += 1;
                let _ = writeln!(lines, "refused `{dead_letter}`/{partition}@{offset}: {why}");
            }
            Fate::Skipped => skipped += 1,
        }
    }
    let replayed: usize = to.values().sum();
    if ask.json {
        let records: Vec<serde_json::Value> = fates
            .iter()
            .filter(|(_, _, f)| !matches!(f, Fate::Skipped))
            .map(|(partition, offset, fate)| match fate {
                Fate::Replayed(topic, count) => json!({"partition": partition, "offset": offset, "replayed_to": topic, "replay": count}),
                Fate::Refused(why) => json!({"partition": partition, "offset": offset, "refused": why}),
                Fate::Skipped => json!({}),
            })
            .collect();
        let value = json!({
            "dead_letter": dead_letter, "group": group, "dry_run": ask.dry_run,
            "replayed": replayed, "refused": refused, "skipped": skipped, "to": to,
            "records": records,
        });
        return serde_json::to_string_pretty(&value).unwrap_or_default() + "\n";
    }
    let targets: Vec<String> = to.iter().map(|(t, n)| format!("`{t}` ({n})")).collect();
    let _ = writeln!(
        lines,
        "{verb} {replayed} dead letter(s) of `{dead_letter}`{}; refused {refused}; skipped {skipped} \
         (another reason); progress in group `{group}`",
        if targets.is_empty() {
            String::new()
        } else {
            format!(" to {}", targets.join(", "))
        }
    );
    lines
}
