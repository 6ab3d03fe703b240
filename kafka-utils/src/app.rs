//! Typed handlers and the app runner.
//!
//! An [`App<U>`] runs as user `U`: each [`App::handle`] registers an async function for a
//! topic `U` may read and commit, taking the topic's message type and a [`Context`] (the
//! record's metadata, a producer of `U` for replies, the settings). [`App::run_until`]
//! subscribes, decodes, calls the handler, and stores the offset only after the handler
//! succeeded. By default records of one partition are handled one after the other, in order;
//! partitions run concurrently, at most [`App::max_concurrency`] at a time. [`App::ordering`]
//! handles records of different keys at once (see [Orderings](#orderings)).
//!
//! Nothing is lost: a failing handler is retried ([`Retry`]: 3 attempts,
//! `KAFKA_RETRY_BACKOFF_MS`, doubling); a handler that panics is caught, and the attempt
//! counts as failed; a handler that fails with [`Fail::permanent`] is not tried again. A
//! record that still fails, or that cannot be decoded (no handler runs
//! then), goes byte for byte to its topic's dead letter (see [`crate::dead_letter`]), and its
//! offset is stored only once the broker acknowledged the dead letter; the partition flows
//! on. A topic without a dead letter stops the app with an error naming the record,
//! uncommitted.
//!
//! # Stopping
//!
//! The stop (the future given to `run_until`, or SIGINT/SIGTERM for [`App::run`]) is seen at
//! once: no more records are handed out; each handler already running finishes its record
//! within [`App::shutdown_timeout`]; records queued but not started are left for the next
//! run. Handlers still running at the deadline are abandoned, not awaited: cancelled where
//! they wait, left to the thread they block (with `std::thread::sleep`, say), and nothing
//! they finish later is stored. What was handled is committed, the consumer leaves its
//! group, and the producer is flushed: `run_until` returns within `shutdown_timeout` + 2 s.
//! A worker that dies (a panic that escapes even the handler's catch) ends the app with an
//! error, its record uncommitted. Dropping the future of `run_until` leaves the group too.
//!
//! # Rebalances
//!
//! The group is served by the consumer's own thread, never a tokio worker. When partitions
//! are revoked, the app hands out none of their records any more (those queued to their
//! workers are dropped, for the partitions' next owners), lets the record in hand of each
//! finish within `shutdown_timeout`, stores and commits, and only then lets the revoke
//! complete. What repeats after a rebalance is at most the records in the revoked handlers
//! that outlived that bound; an abandoned handler stores nothing, so a partition that comes
//! back never commits below what its other owner committed.
//!
//! # Orderings
//!
//! A handler that waits on I/O (a database, an HTTP call) bounds the default
//! ([`Ordering::Partition`]) to one record at a time per partition: 3 partitions and a 5 ms
//! handler make 600 records/s. [`Ordering::Key`] handles records with the same key one at a
//! time, in offset order, and records of different keys at once; [`Ordering::Unordered`]
//! handles every record at once. Set it for the app ([`App::ordering`]) or per topic
//! ([`App::ordering_topic`]).
//!
//! Under `Key` and `Unordered` each partition has a window: its records from the oldest
//! unfinished one on, started or waiting behind their key, at most [`App::max_in_flight`]
//! (64 by default). The handlers of a window run concurrently on its partition's task (a
//! handler that computes for long should `spawn_blocking`).
//!
//! - **Offsets.** Only the contiguous run of finished records (handled, or written to the
//!   dead letter) at a window's front is stored: never an offset past a record still running
//!   or waiting, and nothing in the commit's metadata. A record that runs long holds the
//!   window's front; the records behind it go on until the window is full.
//! - **What repeats.** After a crash, the records received again are those from the last
//!   commit on: the window (what ran or waited, never stored), plus what finished and was
//!   stored since the last commit. The app commits on its own, asynchronously and one commit
//!   at a time, as soon as `max_in_flight` records were stored since the last one, and within
//!   100 ms of any store while it is quiet (librdkafka's `auto.commit.interval.ms`, 5 s, goes
//!   on as well): what finished but was not committed is fewer than `max_in_flight` records
//!   plus those finished during one commit's round trip. In our fault runs an app killed with
//!   SIGKILL under `Key` ordering (windows of 64 on 3 partitions) received 13 and 53 of 3,000 records
//!   again. With `KAFKA_ENABLE_AUTO_COMMIT=false` the app commits only at a rebalance and a
//!   stop. A rebalance and a stop first wait for the
//!   running handlers (within [`App::shutdown_timeout`]), store what finished, and let the
//!   records still waiting go: they repeat, not having run.
//! - **Failures.** Retries happen in the record's place: a failing record holds back only
//!   its own key (and the window's front, when it is there); once it is dead-lettered the
//!   key's next record starts. A topic with retry topics sends its failing records there
//!   instead, out of their key's order; [`App::retry_in_place`] waits their delays in place
//!   and keeps it. A record that fails for good on a topic without a dead letter
//!   stops the app, and its window with it.
//! - **Memory and the poll.** A partition whose worker has no room is not read from
//!   librdkafka: its records stay in the partition's fetch queue (librdkafka stops fetching
//!   it at `queued.max.messages.kbytes`), and the consumer keeps polling, so a long handler
//!   causes no rebalance. librdkafka's pause (`rd_kafka_pause_partitions`) is not used: it
//!   drops what was prefetched and is forgotten across a rebalance; not reading keeps every
//!   prefetched record, in order, whatever the group does.
//!
//! ```
//! use kafka_utils::prelude::*;
//! use kafka_utils::app::App;
//!
//! #[derive(KafkaTopics)]
//! pub enum Topics {
//!     #[topic(name = "orders", message = String, key = u64, partitions = 3)]
//!     Orders,
//! }
//!
//! #[derive(KafkaUsers)]
//! pub enum Users {
//!     #[user(name = "fulfilment")]
//!     Fulfilment,
//! }
//!
//! permissions! {
//!     Users::Fulfilment => { Topics::Orders => [Read, AutoCommitOffset] },
//! }
//!
//! async fn ship(order: String, ctx: Context<users::Fulfilment>) -> Result<(), String> {
//!     // Orders of one customer (the key) one after the other; other customers' meanwhile.
//!     Ok(())
//! }
//!
//! # fn main() -> Result<(), kafka_utils::Error> {
//! # let settings = Settings::new("127.0.0.1:9092");
//! let app = App::<users::Fulfilment>::new(&settings)?
//!     .ordering(Ordering::Key)
//!     .max_in_flight(64)
//!     .handle(topics::Orders, ship);
//! # Ok(()) }
//! ```
//!
//! # Slow and hung handlers
//!
//! A partition's records are read only while its worker has room (a batch in hand and one
//! waiting); its other records stay in librdkafka's fetch queue, and the other partitions
//! flow. The consumer keeps polling meanwhile, so a handler that runs longer than
//! `KAFKA_MAX_POLL_INTERVAL_MS` gets no rebalance and no eviction: it holds back its own
//! partition only (and a permit of [`App::max_concurrency`]) until it returns. The
//! [`HealthCheck`](crate::health::HealthCheck) watching the app still reports its poller as
//! live; a handler that never returns is the application's to bound (a timeout in the
//! handler, or the stop's deadline).
//!
//! ```
//! use kafka_utils::prelude::*;
//! use kafka_utils::app::{App, Context};
//! use kafka_utils::consumer::Consumer;
//! use kafka_utils::embedded::EmbeddedCluster;
//! use kafka_utils::producer::Producer;
//! use kafka_utils::settings::Settings;
//!
//! #[derive(KafkaTopics)]
//! pub enum Topics {
//!     #[topic(name = "requests", message = u32)]
//!     Requests,
//!     #[topic(name = "answers", message = u32)]
//!     Answers,
//! }
//!
//! #[derive(KafkaUsers)]
//! pub enum Users {
//!     #[user(name = "doubler")]
//!     Doubler,
//! }
//!
//! permissions! {
//!     Users::Doubler => {
//!         Topics::Requests => [Read, Write, AutoCommitOffset],
//!         Topics::Answers => [Read, Write, AutoCommitOffset],
//!     },
//! }
//!
//! async fn double(n: u32, ctx: Context<users::Doubler>) -> Result<(), kafka_utils::Error> {
//!     ctx.producer().send(topics::Answers, &(n * 2)).await?.await?;
//!     Ok(())
//! }
//!
//! # #[tokio::main] async fn main() -> Result<(), kafka_utils::Error> {
//! let cluster = EmbeddedCluster::start(1)?;
//! cluster.create_topic("requests", 1)?;
//! cluster.create_topic("answers", 1)?;
//! let settings = Settings::new(cluster.bootstrap_servers());
//! Producer::<users::Doubler>::new(&settings)?.send(topics::Requests, &21).await?.await?;
//!
//! let answers = Consumer::<users::Doubler, u32>::builder(&settings)
//!     .group("doubler-answers") // no group declared: groups start with the user's name
//!     .topic(topics::Answers)
//!     .build()?;
//! let app = App::<users::Doubler>::new(&settings)?.handle(topics::Requests, double);
//! // Run until the answer arrives.
//! app.run_until(async {
//!     let answer = answers.recv().await.expect("an answer");
//!     assert_eq!(answer.value, 42);
//! })
//! .await?;
//! # Ok(()) }
//! ```

mod attempt;
mod batch;
mod context;
mod dispatch;
mod fail;
mod options;
mod ordering;
mod retry;
mod retry_topics;
mod run;
mod window;
mod worker;

pub use context::Context;
pub use fail::Fail;
pub use options::App;
pub use ordering::Ordering;
pub use retry::Retry;
pub use run::shutdown_signal;
