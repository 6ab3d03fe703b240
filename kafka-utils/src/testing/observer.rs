//! The kit's own consumer, which never joins a group: it reads a group's committed offsets,
//! a topic's partitions and their ends, and records.

use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer as _};

use crate::Error;
use crate::settings::Settings;
use crate::sys::DropOffRuntime;

/// A consumer of the kit's cluster for `group` (as declared) that commits nothing and joins
/// no group: `what` it is for names it in errors.
pub(super) fn observer(
    settings: &Settings,
    group: &str,
    what: &str,
) -> Result<DropOffRuntime<BaseConsumer>, Error> {
    let consumer: BaseConsumer = settings
        .consumer_config(group)?
        .set("enable.auto.commit", "false")
        .create()
        .map_err(|e| Error::kafka(format!("creating the test kit's {what}"), e))?;
    Ok(DropOffRuntime::new(consumer))
}

/// How many partitions topic `topic` (as declared; `name` on the cluster) has: none when
/// the cluster does not know it.
pub(super) fn partitions(
    consumer: &BaseConsumer,
    topic: &str,
    name: &str,
    timeout: Duration,
) -> Result<i32, Error> {
    let metadata = consumer
        .fetch_metadata(Some(name), timeout)
        .map_err(|e| Error::kafka(format!("reading topic `{topic}`'s partitions"), e))?;
    let count = metadata
        .topics()
        .first()
        .map_or(0, |t| t.partitions().len());
    Ok(i32::try_from(count).unwrap_or(i32::MAX))
}
