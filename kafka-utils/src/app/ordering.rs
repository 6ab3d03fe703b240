//! In what order an app handles a partition's records, and how many at once.

/// In what order an app handles the records of each partition of a topic
/// ([`App::ordering`](super::App::ordering), [`App::ordering_topic`](super::App::ordering_topic)).
///
/// Whatever the ordering, the offset an app stores is that of the last record of the
/// partition's contiguous run of finished records (handled, or written to the dead letter):
/// nothing past a record still running or waiting. With `Key` and `Unordered`, the records
/// started but not all finished form the partition's window, at most
/// [`App::max_in_flight`](super::App::max_in_flight) records long, from the oldest unfinished
/// one on: after a crash, what is received again is at most that window.
///
/// ```
/// use kafka_utils::prelude::*;
/// use kafka_utils::app::{App, Context, Ordering};
///
/// #[derive(KafkaTopics)]
/// pub enum Topics {
///     #[topic(name = "payments", message = String, key = u64)]
///     Payments,
/// }
///
/// #[derive(KafkaUsers)]
/// pub enum Users {
///     #[user(name = "ledger")]
///     Ledger,
/// }
///
/// permissions! {
///     Users::Ledger => { Topics::Payments => [Read, AutoCommitOffset] },
/// }
///
/// async fn book(payment: String, ctx: Context<users::Ledger>) -> Result<(), String> {
///     // A database call, say: records of other accounts are booked meanwhile,
///     // those of this account (the key) one after the other, in order.
///     Ok(())
/// }
///
/// # fn main() -> Result<(), kafka_utils::Error> {
/// # let settings = kafka_utils::settings::Settings::new("127.0.0.1:9092");
/// let app = App::<users::Ledger>::new(&settings)?
///     .ordering(Ordering::Key)
///     .max_in_flight(64)
///     .handle(topics::Payments, book);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Ordering {
    /// One record of a partition at a time, in offset order (the default): the partitions are
    /// the app's parallelism.
    #[default]
    Partition,
    /// Records with the same key one at a time, in offset order; records with different keys
    /// at once, up to the window. Records without a key count as one key.
    Key,
    /// Every record of the window at once, in no order.
    Unordered,
}

impl Ordering {
    /// Its name, as the docs and logs give it.
    pub fn name(self) -> &'static str {
        match self {
            Ordering::Partition => "partition",
            Ordering::Key => "key",
            Ordering::Unordered => "unordered",
        }
    }
}

impl std::fmt::Display for Ordering {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The default of [`App::max_in_flight`](super::App::max_in_flight).
pub(super) const DEFAULT_MAX_IN_FLIGHT: usize = 64;

/// The largest [`App::max_in_flight`](super::App::max_in_flight).
pub(super) const MOST_IN_FLIGHT: usize = 10_000;
