use kafka_utils::prelude::*;

#[derive(KafkaTopics)]
enum Topics {
    #[topic(name = "orders", message = String, config(segment_ms = -5))]
    Orders,
}

fn main() {}
