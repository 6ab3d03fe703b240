//! The `dlq` command line: what clap reads, and running it (see [`super::dlq`] and
//! [`super::replay`]).

use super::{dlq, replay};
use crate::Error;
use crate::settings::Settings;
use crate::topology::Topology;

/// A `dlq` command: TOPIC is a dead-letter topic, or a topic that declares one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DlqCommand {
    /// `dlq list TOPIC [--reason R] [--since TIME]`: its dead letters, where each came from
    /// and why.
    List {
        /// The topic.
        topic: String,
        /// Only those dead-lettered for this reason.
        reason: Option<String>,
        /// Only those dead-lettered since (a time ago, `2h`, or ms since the epoch).
        since: Option<String>,
    },
    /// `dlq show TOPIC OFFSET [--partition P]`: one dead letter, whole.
    Show {
        /// The topic.
        topic: String,
        /// Its partition in the dead-letter topic.
        partition: i32,
        /// Its offset there.
        offset: i64,
    },
    /// `dlq replay TOPIC [--reason R] [--limit N] [--dry-run]`: back to the topic each came
    /// from, byte for byte, from where the last replay stopped.
    Replay {
        /// The topic.
        topic: String,
        /// Only those dead-lettered for this reason.
        reason: Option<String>,
        /// At most this many.
        limit: Option<usize>,
    },
}

impl DlqCommand {
    /// Runs it for `topology` with `settings`: the text to print (JSON with `json`).
    pub(super) async fn run(
        &self,
        topology: &Topology,
        settings: &Settings,
        json: bool,
        dry_run: bool,
    ) -> Result<String, Error> {
        match self {
            DlqCommand::List {
                topic,
                reason,
                since,
            } => {
                let asked = (topic.as_str(), reason.as_deref(), since.as_deref());
                dlq::list(topology, settings, asked, json).await
            }
            DlqCommand::Show {
                topic,
                partition,
                offset,
            } => {
                dlq::show(
                    topology,
                    settings,
                    (topic.as_str(), *partition, *offset),
                    json,
                )
                .await
            }
            DlqCommand::Replay {
                topic,
                reason,
                limit,
            } => {
                let ask = replay::Ask {
                    topic,
                    reason: reason.as_deref(),
                    limit: *limit,
                    dry_run,
                    json,
                };
                replay::replay(topology, settings, &ask).await
            }
        }
    }
}

#[derive(Debug, clap::Subcommand)]
pub(super) enum DlqSub {
    /// List the dead letters of TOPIC (a dead-letter topic, or a topic with one).
    List {
        /// The topic.
        topic: String,
        /// Only those dead-lettered for R (decode, schema, handler, panic, permanent).
        #[arg(long, value_name = "R")]
        reason: Option<String>,
        /// Only those dead-lettered since TIME: a time ago (30m, 2h, 7d) or ms since the epoch.
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Show one dead letter of TOPIC: where it came from, why, its key, payload and headers.
    Show {
        /// The topic.
        topic: String,
        /// Its offset in the dead-letter topic.
        offset: i64,
        /// Its partition in the dead-letter topic.
        #[arg(long, value_name = "P", default_value_t = 0)]
        partition: i32,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Send the dead letters of TOPIC back to the topic each came from, from where the last
    /// replay stopped (a record replayed 3 times already is refused).
    Replay {
        /// The topic.
        topic: String,
        /// Only those dead-lettered for R (decode, schema, handler, panic, permanent).
        #[arg(long, value_name = "R")]
        reason: Option<String>,
        /// At most N.
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
        /// Only say what would be replayed.
        #[arg(long)]
        dry_run: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

impl DlqSub {
    /// The command, with its `--json` and `--dry-run`.
    pub(super) fn asked(self) -> (DlqCommand, bool, bool) {
        match self {
            DlqSub::List {
                topic,
                reason,
                since,
                json,
            } => (
                DlqCommand::List {
                    topic,
                    reason,
                    since,
                },
                json,
                false,
            ),
            DlqSub::Show {
                topic,
                offset,
                partition,
                json,
            } => (
                DlqCommand::Show {
                    topic,
                    partition,
                    offset,
                },
                json,
                false,
            ),
            DlqSub::Replay {
                topic,
                reason,
                limit,
                dry_run,
                json,
            } => (
                DlqCommand::Replay {
                    topic,
                    reason,
                    limit,
                },
                json,
                dry_run,
            ),
        }
    }
}
