use kafka_utils::prelude::*;

#[derive(KafkaTopics)]
pub enum Topics {
    #[topic(name = "orders", message = u64, dead_letter = Orders)]
    Orders,
}

fn main() {}
