use kafka_utils::prelude::*;

#[derive(KafkaTopics)]
enum Topics {
    #[topic(name = "orders", message = String, config(cleanup_policy = "purge"))]
    Orders,
}

fn main() {}
