//! What a handler gets besides the message: the record's metadata, read from the record as
//! it was fetched, and what its app shares.

use std::sync::Arc;

use crate::access::User;
use crate::codec::{CodecError, KafkaKey};
use crate::consumer::{HeldRecord, find_header};
use crate::producer::Producer;
use crate::settings::Settings;

use super::batch::Work;

/// What a handler gets besides the message.
///
/// The key, headers and timestamp are read from the record as it was fetched, when asked
/// for: a handler that does not look at them costs nothing for them. The producer and the
/// settings are the app's, shared by every record of a batch.
///
/// ```
/// use kafka_utils::prelude::*;
/// use kafka_utils::app::Context;
///
/// #[derive(KafkaUsers)]
/// pub enum Users {
///     #[user(name = "shop")]
///     Shop,
/// }
///
/// async fn take(order: String, ctx: Context<users::Shop>) -> Result<(), String> {
///     let customer: u64 = ctx.key_as().map_err(|e| e.to_string())?;
///     let lang = ctx.header("lang").unwrap_or(b"en");
///     println!("{order} from {customer} ({}), offset {}", String::from_utf8_lossy(lang), ctx.offset);
///     Ok(())
/// }
/// ```
pub struct Context<U: User> {
    /// The topic the record came from.
    pub topic: &'static str,
    /// Its partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// The batch the record came in (and what its worker shares), and where in it.
    pub(super) work: Arc<Work<U>>,
    pub(super) index: usize,
}

impl<U: User> Context<U> {
    /// The record's timestamp in milliseconds since the epoch, if it has one.
    pub fn timestamp(&self) -> Option<i64> {
        self.record().timestamp()
    }

    /// A producer of the same user, for replies (clone it to keep it beyond the handler).
    pub fn producer(&self) -> &Producer<U> {
        &self.work.env.producer
    }

    /// The app's settings.
    pub fn settings(&self) -> &Settings {
        &self.work.env.settings
    }

    /// The record's key bytes (`None`: it has no key).
    pub fn key(&self) -> Option<&[u8]> {
        self.record().key()
    }

    /// The key as a `K`.
    pub fn key_as<K: KafkaKey>(&self) -> Result<K, CodecError> {
        K::read_key(self.key())
    }

    /// The record's headers, in order (`None`: a null value). Parsed on the first call.
    pub fn headers(&self) -> &[(String, Option<Vec<u8>>)] {
        self.record().headers()
    }

    /// The value of the first header named `name`.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        find_header(self.headers(), name)
    }

    fn record(&self) -> &HeldRecord {
        &self.work.batch.records.records()[self.index]
    }
}

impl<U: User> std::fmt::Debug for Context<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("user", &U::NAME)
            .field("topic", &self.topic)
            .field("partition", &self.partition)
            .field("offset", &self.offset)
            .field("timestamp", &self.timestamp())
            .finish_non_exhaustive()
    }
}
