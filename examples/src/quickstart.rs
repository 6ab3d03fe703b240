//! The quickstart's declaration and handler (the program is `examples/quickstart.rs`).

use std::convert::Infallible;

use kafka_utils::prelude::*;
use serde::{Deserialize, Serialize};

/// What the quickstart sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Greeting {
    /// The greeting.
    pub text: String,
    /// The process that sent it.
    pub from_pid: u32,
}

#[derive(Debug, KafkaTopics)]
pub enum Topics {
    /// Greetings, keyed by sender.
    #[topic(name = "quickstart.greetings", message = Greeting, key = String, partitions = 1)]
    Greetings,
}

#[derive(Debug, KafkaUsers)]
pub enum Users {
    #[user(name = "quickstart", groups = ["quickstart"])]
    Quickstart,
}

permissions! {
    Users::Quickstart => { Topics::Greetings => [Read, Write, AutoCommitOffset] },
}

/// The quickstart's handler: says what it got and where from.
pub async fn greet(greeting: Greeting, ctx: Context<users::Quickstart>) -> Result<(), Infallible> {
    println!(
        "consumed: {greeting:?} from {} partition {} offset {}",
        ctx.topic, ctx.partition, ctx.offset
    );
    Ok(())
}
