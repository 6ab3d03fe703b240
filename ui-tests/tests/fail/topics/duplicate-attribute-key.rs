use kafka_utils::prelude::*;

#[derive(KafkaTopics)]
enum Topics {
    #[topic(name = "orders", name = "orders2", message = String)]
    Orders,
}

fn main() {}
