use kafka_utils::prelude::*;

#[derive(KafkaTopics)]
enum Topics {
    #[topic(name = "orders", message = String, config(retension = "7d"))]
    Orders,
}

fn main() {}
