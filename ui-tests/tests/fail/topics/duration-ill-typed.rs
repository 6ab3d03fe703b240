use kafka_utils::prelude::*;

#[derive(KafkaTopics)]
enum Topics {
    #[topic(name = "orders", message = String, config(retention = "7 days"))]
    Orders,
}

fn main() {}
