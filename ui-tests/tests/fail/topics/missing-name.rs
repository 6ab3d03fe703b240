use kafka_utils::prelude::*;

#[derive(KafkaTopics)]
enum Topics {
    #[topic(message = String)]
    Orders,
}

fn main() {}
