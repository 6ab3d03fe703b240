//! The admin at scale: a topology as large as `KAFKA_UTILS_SCALE_TOPICS` and
//! `KAFKA_UTILS_SCALE_READERS` make it when this crate is built (see `build.rs`), declared with
//! the same derives and `permissions!` as any service's, so that building this crate is the
//! derive's cost for that topology, and `admin-scale` plans and applies it on a real cluster.

use kafka_utils::prelude::*;

/// Every scale topic's message.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Event {
    pub id: u64,
}

include!(concat!(env!("OUT_DIR"), "/topology.rs"));
