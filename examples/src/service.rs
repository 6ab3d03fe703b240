//! The order service's declaration and handler (the program is `examples/service.rs`).

use kafka_utils::metrics::Metrics;
use kafka_utils::prelude::*;
use serde::{Deserialize, Serialize};

/// An order as the shop sends it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Order {
    pub id: u64,
    pub amount_cents: u64,
}

/// What the service records about each order it took.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Audit {
    pub order: u64,
    pub accepted: bool,
}

#[derive(Debug, KafkaTopics)]
pub enum Topics {
    /// Orders to take.
    #[topic(name = "service.orders", message = Order, key = u64, partitions = 3)]
    Orders,
    /// What was done with them.
    #[topic(name = "service.audit", message = Audit, partitions = 1)]
    Audit,
}

#[derive(Debug, KafkaUsers)]
pub enum Users {
    #[user(name = "order-service", groups = ["order-service"])]
    OrderService,
}

permissions! {
    Users::OrderService => {
        Topics::Orders => [Read, Write, AutoCommitOffset],
        Topics::Audit => [Write],
    },
}

/// Any error, sent across threads.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The order service's handler: accepts orders up to 1,000.00, counts them in `metrics`,
/// and writes an audit record of each.
pub async fn handle(
    order: Order,
    ctx: Context<users::OrderService>,
    metrics: Metrics,
) -> Result<(), BoxError> {
    let accepted = order.amount_cents <= 100_000;
    let outcome = if accepted { "accepted" } else { "rejected" };
    metrics.increment("orders", 1.0, &[("outcome", outcome)])?;
    metrics.record_metric("last_order_cents", order.amount_cents as f64, &[])?;
    let audit = Audit {
        order: order.id,
        accepted,
    };
    ctx.producer().send(topics::Audit, &audit).await?.await?;
    Ok(())
}
