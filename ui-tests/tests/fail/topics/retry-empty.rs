use kafka_utils::prelude::*;

#[derive(KafkaTopics)]
pub enum Topics {
    #[topic(name = "orders", message = u64, retry = [])]
    Orders,
}

fn main() {}
