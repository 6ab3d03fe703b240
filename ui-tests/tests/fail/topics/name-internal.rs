use kafka_utils::prelude::*;

#[derive(KafkaTopics)]
enum Topics {
    #[topic(name = "__orders", message = String)]
    Orders,
}

fn main() {}
