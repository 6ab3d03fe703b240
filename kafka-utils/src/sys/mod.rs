//! The one place `unsafe` is allowed: librdkafka's C API, behind safe types.
//!
//! Every native object is owned by a [`NativePtr`] and destroyed once, by its type's own
//! destroy function ([`ptr::KafkaDrop`]). The rest of the crate is `#![deny(unsafe_code)]` (the
//! workspace's lints) and reaches librdkafka only through what this module exports.
//!
//! - [`ptr`]: the owning pointer.
//! - [`message`]: a record as librdkafka hands it out, read without copying.
//! - [`queue`]: a partition's own queue, split from its consumer's, read a batch at a time.
//! - [`commit`]: asynchronous commits whose results come to a queue of their own.
//! - [`events`]: a producer's events (delivery reports a whole event at a time).
//! - [`produce`]: records handed to librdkafka through a topic handle made once per topic.
//! - [`mock`]: the mock cluster, shared across threads.
//! - [`DropOffRuntime`]: a client whose destroy blocks, dropped off the async runtime.
//! - [`acl`]: CreateAcls, DescribeAcls, DeleteAcls.
//! - [`alter`] and [`scram`]: IncrementalAlterConfigs and AlterUserScramCredentials.
//! - [`admin`]: admin requests rust-rdkafka does not wrap (ACLs, SCRAM, incremental configs),
//!   their result events, C strings, and new SASL credentials.

pub(crate) mod acl;
pub(crate) mod admin;
pub(crate) mod alter;
pub(crate) mod commit;
pub(crate) mod events;
pub(crate) mod message;
pub(crate) mod mock;
pub(crate) mod produce;
pub(crate) mod ptr;
pub(crate) mod queue;
pub(crate) mod scram;

use std::mem::ManuallyDrop;
use std::ops::Deref;

pub use admin::AdminClient;
pub(crate) use admin::{
    ErrStr, Request, answers, c_string, error_text, set_sasl_credentials, text,
};
pub(crate) use alter::set_topic_configs;
pub(crate) use commit::CommitQueue;
pub(crate) use events::{Event, EventKind, MainQueue, flush};
pub use message::owned_headers;
pub(crate) use message::{Fetched, HeldRecord, Message, Record};
pub(crate) use mock::SharedMockCluster;
pub(crate) use produce::{Refused, TopicHandles};
pub(crate) use ptr::NativePtr;
pub(crate) use queue::PartitionQueue;
pub(crate) use scram::upsert_scram_credential;

/// A value whose drop may block (a librdkafka client's destroy), dropped on a thread of its
/// own when it is dropped on a tokio runtime's thread.
pub(crate) struct DropOffRuntime<T: Send + 'static>(ManuallyDrop<T>);

impl<T: Send + 'static> DropOffRuntime<T> {
    pub(crate) fn new(value: T) -> Self {
        DropOffRuntime(ManuallyDrop::new(value))
    }
}

impl<T: Send + 'static> Deref for DropOffRuntime<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Send + 'static> Drop for DropOffRuntime<T> {
    fn drop(&mut self) {
        // SAFETY: the value is taken once, here, and not used again.
        let value = unsafe { ManuallyDrop::take(&mut self.0) };
        off_the_runtime(move || drop(value));
    }
}

/// Runs `work` here, or on a thread of its own when this is a tokio runtime's thread, where
/// nothing may block.
pub(crate) fn off_the_runtime(work: impl FnOnce() + Send + 'static) {
    if tokio::runtime::Handle::try_current().is_err() {
        work();
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("kafka-utils close".into())
        .spawn(work);
    if let Err(e) = spawned {
        tracing::error!(error = %e, "no thread to close a client on; it is leaked");
    }
}
