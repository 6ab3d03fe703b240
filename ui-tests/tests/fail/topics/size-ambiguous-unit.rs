use kafka_utils::prelude::*;

#[derive(KafkaTopics)]
enum Topics {
    #[topic(name = "orders", message = String, config(retention_bytes = "1GB"))]
    Orders,
}

fn main() {}
