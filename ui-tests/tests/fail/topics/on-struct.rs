use kafka_utils::prelude::*;

#[derive(KafkaTopics)]
struct Topics {
    orders: String,
}

fn main() {}
