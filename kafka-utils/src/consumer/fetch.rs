//! One fetch, as both readers of an [`Engine`](super::Engine) take records: the
//! [`Consumer`](super::Consumer), which decodes them, and the app's dispatch, which hands
//! each partition's share to its worker. Neither polls librdkafka itself: the engine's
//! thread does (see [`engine`](super::engine)), and a fetch takes what it fetched.
//!
//! # In order
//!
//! A fetch first looks at the refusal: a refused login or ACL ends receiving. Then at the
//! errors the consumer's queue delivered: when there are some, they become the engine's
//! pending errors and no record is taken this time, so errors are reported in the order
//! they came. Otherwise it takes up to `max` records from the partitions' own queues, each
//! partition's carried records first; a record that carries an error in place of its
//! bytes becomes a pending error too. A record the reader cannot take (the consumer could
//! not decode it) is a pending error, and its partition is held at it: the partition's
//! later records are carried until the application decides about it.
//!
//! A reader may also say it has enough ([`Took::Enough`]): the consumer does once its batch
//! holds [`BATCH_BYTES`](super::receive) of payload, so that a batch of large records stays
//! in the CPU's cache while the application goes through it. What was read after that
//! record is kept, in order, for the next fetch.
//!
//! The reader reports the pending errors ([`Shared::next_error`]): the consumer after the
//! records it took, the app at once (a refusal stops it; other errors are logged, and
//! librdkafka goes on).

use std::sync::Arc;

use super::engine::{Shared, receive_error};
use super::partitions::{Assignment, Taken};
use crate::Error;
use crate::sys::{Message, Record as _};

/// What a fetch's reader says after taking a record.
pub(crate) enum Took {
    /// On to the next record.
    More,
    /// No more this time.
    Enough,
}

impl Shared {
    /// Takes up to `max` records, through `sink`, from the partitions that are not being
    /// revoked, not held, and not ones `skip` says to leave for now (see the
    /// [module docs](self)); `Err` when the login or an ACL is refused. `sink` returning an
    /// error holds the record's partition at it. Returns how many records `sink` took.
    pub(crate) fn fetch(
        &self,
        user: &str,
        max: usize,
        skip: impl Fn(&Assignment) -> bool,
        mut sink: impl FnMut(&Arc<Assignment>, Message) -> Result<Took, Error>,
    ) -> Result<usize, Error> {
        if let Some(refusal) = self.refusal().get() {
            return Err(refusal);
        }
        let mut errors: Vec<Error> = Vec::new();
        while let Some(error) = self.take_error() {
            errors.extend(receive_error(user, error));
        }
        let mut taken = 0;
        if errors.is_empty() {
            self.partitions().take(max, skip, |assignment, message| {
                if let Some(error) = message.error() {
                    errors.extend(receive_error(user, error));
                    return Taken::Next;
                }
                let offset = message.offset();
                match sink(assignment, message) {
                    Ok(Took::More) => {
                        taken += 1;
                        Taken::Next
                    }
                    Ok(Took::Enough) => {
                        taken += 1;
                        Taken::Last
                    }
                    Err(error) => {
                        errors.push(error);
                        Taken::Hold(offset)
                    }
                }
            });
        }
        if !errors.is_empty() {
            self.pending().extend(errors);
        }
        if taken > 0 {
            // The cluster serves this consumer: a refused login is over.
            self.refusal().succeeded();
        }
        Ok(taken)
    }

    /// The oldest error a fetch met and nobody reported yet.
    pub(crate) fn next_error(&self) -> Option<Error> {
        self.pending().pop_front()
    }

    /// Waits until the partitions' queues may hold records; `Err` when the login or an ACL
    /// is refused first.
    pub(crate) async fn ready(&self) -> Result<(), Error> {
        tokio::select! {
            () = self.partitions().ready() => Ok(()),
            refusal = self.refusal().wait() => Err(refusal),
        }
    }
}
