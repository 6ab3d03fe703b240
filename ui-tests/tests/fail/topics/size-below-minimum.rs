use kafka_utils::prelude::*;

#[derive(KafkaTopics)]
enum Topics {
    #[topic(name = "orders", message = String, config(segment_bytes = "1KiB"))]
    Orders,
}

fn main() {}
