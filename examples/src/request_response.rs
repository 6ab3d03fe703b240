//! Request/response between two users (the program is `examples/request_response.rs`):
//! their declaration and the order service's handler.

use kafka_utils::prelude::*;
use serde::{Deserialize, Serialize};

/// A shop asks for an order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrderRequest {
    pub id: u64,
    pub item: String,
    pub quantity: u32,
}

/// The order service's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderResponse {
    pub id: u64,
    pub accepted: bool,
    pub reason: Option<String>,
}

#[derive(Debug, KafkaTopics)]
pub enum ServiceTopics {
    /// Incoming order requests.
    #[topic(name = "service.request", message = OrderRequest, key = u64, partitions = 3,
            config(retention = "7d", cleanup_policy = "delete"))]
    Request,
    /// Answers, keyed like their request.
    #[topic(name = "service.response", message = OrderResponse, key = u64, partitions = 3)]
    Response,
}

#[derive(Debug, KafkaUsers)]
pub enum ServiceUsers {
    /// The order service.
    #[user(name = "my-service", groups = ["my-service-group"])]
    Service,
    /// A shop that places orders.
    #[user(name = "external-service", groups = ["external-service-responses"])]
    External,
}

permissions! {
    ServiceUsers::Service => {
        ServiceTopics::Request => [Read, AutoCommitOffset],
        ServiceTopics::Response => [Write],
    },
    ServiceUsers::External => {
        ServiceTopics::Request => [Write],
        ServiceTopics::Response => [Read, AutoCommitOffset],
    },
}

/// The order service's handler: accept small orders, refuse large ones.
pub async fn handle_request(
    request: OrderRequest,
    ctx: Context<service_users::Service>,
) -> Result<(), kafka_utils::Error> {
    let response = if request.quantity <= 10 {
        OrderResponse {
            id: request.id,
            accepted: true,
            reason: None,
        }
    } else {
        OrderResponse {
            id: request.id,
            accepted: false,
            reason: Some(format!(
                "{} × {} is more than we keep",
                request.quantity, request.item
            )),
        }
    };
    ctx.producer()
        .send_record(
            service_topics::Response,
            Record::new(&response).key(&request.id),
        )
        .await?
        .await?;
    Ok(())
}
