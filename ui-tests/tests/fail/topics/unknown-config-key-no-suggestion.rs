use kafka_utils::prelude::*;

#[derive(KafkaTopics)]
enum Topics {
    #[topic(name = "orders", message = String, config(colour = "blue"))]
    Orders,
}

fn main() {}
