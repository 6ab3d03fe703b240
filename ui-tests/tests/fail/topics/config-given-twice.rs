use kafka_utils::prelude::*;

#[derive(KafkaTopics)]
enum Topics {
    #[topic(name = "orders", message = String, config(retention = "7d", retention_ms = 1000))]
    Orders,
}

fn main() {}
