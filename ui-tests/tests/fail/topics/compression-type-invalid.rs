use kafka_utils::prelude::*;

#[derive(KafkaTopics)]
enum Topics {
    #[topic(name = "orders", message = String, config(compression_type = "brotli"))]
    Orders,
}

fn main() {}
