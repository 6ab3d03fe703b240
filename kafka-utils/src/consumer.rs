//! The typed consumer: a user reads the topics it may read, in a group it may commit for.
//!
//! [`Consumer<U, M>`] is bound to a declared user `U` and a message type `M`; its builder
//! subscribes to topic types that `U` may Read *and* commit offsets of, whose messages are
//! `M` — anything else does not compile. It delivers at least once: librdkafka's automatic
//! offset store is off, and an offset is stored only when the application says the record
//! was handled ([`Consumer::ack`]). Stored offsets are committed by librdkafka every
//! `auto.commit.interval.ms` when `KAFKA_ENABLE_AUTO_COMMIT` is true, and by
//! [`Consumer::commit`] (and on a rebalance and on [`Consumer::close`]) in any case. A record
//! not acknowledged before a crash is received again.
//!
//! # Nothing is committed past a record nobody decided about
//!
//! A record that cannot be decoded comes as an [`Error::Decode`](crate::Error::Decode) that carries it, as it was
//! fetched ([`RawRecord`]: payload, key, headers, where it came from). Its partition's later
//! records wait until the application decides about it: [`Consumer::skip`] acknowledges it on
//! purpose, [`Consumer::dead_letter`] writes it to its topic's dead letter first. The other
//! partitions flow meanwhile. An acknowledgement past it, of a record not received in the
//! partition's current assignment, or of a partition revoked since, is refused
//! ([`Error::NotAcknowledged`](crate::Error::NotAcknowledged)): the next owner of a revoked partition receives its
//! unacknowledged records again.
//!
//! # The group
//!
//! The consumer's group is served by a thread of its own (rebalances, commits, leaving),
//! never by a tokio worker. When the application asks for no records for longer than
//! `KAFKA_MAX_POLL_INTERVAL_MS`, the consumer leaves its group, as the Java client does, and
//! joins again when it asks again. Dropping the consumer leaves the group too; a
//! [`ConsumerProbe`] watching it does not keep it in.
//!
//! ```
//! use kafka_utils::prelude::*;
//! use kafka_utils::consumer::Consumer;
//! use kafka_utils::embedded::EmbeddedCluster;
//! use kafka_utils::producer::Producer;
//! use kafka_utils::settings::Settings;
//!
//! #[derive(KafkaTopics)]
//! pub enum Topics {
//!     #[topic(name = "greetings", message = String)]
//!     Greetings,
//! }
//!
//! #[derive(KafkaUsers)]
//! pub enum Users {
//!     #[user(name = "greeter", groups = ["greeters"])]
//!     Greeter,
//! }
//!
//! permissions! { Users::Greeter => { Topics::Greetings => [Read, Write, AutoCommitOffset] } }
//!
//! # #[tokio::main] async fn main() -> Result<(), kafka_utils::Error> {
//! let cluster = EmbeddedCluster::start(1)?;
//! cluster.create_topic("greetings", 1)?;
//! let settings = Settings::new(cluster.bootstrap_servers());
//! let producer = Producer::<users::Greeter>::new(&settings)?;
//! producer.send(topics::Greetings, &"hello".to_string()).await?.await?;
//!
//! let consumer = Consumer::<users::Greeter, String>::builder(&settings)
//!     .group("greeters")
//!     .topic(topics::Greetings)
//!     .build()?;
//! let received = consumer.recv().await?;
//! assert_eq!(received.value, "hello");
//! assert_eq!((received.topic, received.partition, received.offset), ("greetings", 0, 0));
//! consumer.ack(&received)?;
//! consumer.close().await?;
//! # Ok(()) }
//! ```

mod builder;
mod eager;
mod engine;
mod fetch;
mod group;
mod held;
mod partitions;
mod probe;
mod raw;
mod receive;
mod received;
pub(crate) mod to_end;
mod typed;

pub use crate::sys::owned_headers;
pub use builder::ConsumerBuilder;
pub(crate) use engine::{Engine, Shared, Spec, commit_and_close};
pub(crate) use fetch::Took;
pub(crate) use group::{Revocation, group_for};
pub(crate) use held::{HeldBatch, HeldRecord};
pub(crate) use partitions::Assignment;
pub use probe::ConsumerProbe;
pub use raw::RawRecord;
pub use received::Received;
#[cfg(any(feature = "testing", doc))]
pub(crate) use received::decode;
pub(crate) use received::{find_header, static_topic};
pub use typed::Consumer;
