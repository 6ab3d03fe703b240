use kafka_utils::prelude::*;

#[derive(KafkaTopics)]
pub enum Topics {
    #[topic(name = "orders", message = u64, retry = ["10s", "1m"])]
    Orders,
    /// The name of the retry topic `Orders` derives for its `10s` delay.
    #[topic(name = "orders.retry.10s", message = u64)]
    Audit,
    /// Differs from the `1m` retry topic only by `_` for `.`.
    #[topic(name = "orders_retry_1m", message = u64)]
    Other,
}

fn main() {}
