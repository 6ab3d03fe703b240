use kafka_utils::prelude::*;

#[derive(KafkaTopics)]
pub enum Topics {
    #[topic(name = "orders", message = u64, retry = ["50ms", "10s", "30d"])]
    Orders,
}

fn main() {}
