//! A service's topology admin in one line: `plan`, `apply`, `topology`.
//!
//! ```sh
//! cargo run -p kafka-utils-examples --example admin -- topology
//! bash broker/kafka.sh run cargo run -p kafka-utils-examples --example admin -- plan
//! ```
//!
//! `plan` and `apply` read the cluster settings from the environment and `.env`
//! (`KAFKA_BOOTSTRAP_SERVERS`, `KAFKA_SECURITY_PROTOCOL`, `KAFKA_USERNAME`, …). Exit codes:
//! 0 no changes (or applied), 2 changes pending, 1 an error.

use kafka_utils::prelude::*;

#[derive(Debug, KafkaTopics)]
pub enum ShopTopics {
    /// Orders as the shop takes them, keyed by order id.
    #[topic(name = "shop.orders", message = String, key = u64, partitions = 6,
            config(retention = "7d", min_insync_replicas = 1))]
    Orders,
    /// Payment outcomes, compacted per order.
    #[topic(name = "shop.payments", message = String, key = u64, partitions = 6,
            config(cleanup_policy = "compact"))]
    Payments,
}

#[derive(Debug, KafkaUsers)]
pub enum ShopUsers {
    /// The shop service.
    #[user(name = "shop", groups = ["shop"])]
    Shop,
    /// The payment provider's bridge.
    #[user(name = "payments")]
    Payments,
}

permissions! {
    ShopUsers::Shop => {
        ShopTopics::Orders => [Read, Write, AutoCommitOffset],
        ShopTopics::Payments => [Read, AutoCommitOffset],
    },
    ShopUsers::Payments => {
        ShopTopics::Orders => [Read, AutoCommitOffset],
        ShopTopics::Payments => [Write],
    },
}

fn main() -> std::process::ExitCode {
    kafka_utils::admin::cli::main(&TOPOLOGY)
}
