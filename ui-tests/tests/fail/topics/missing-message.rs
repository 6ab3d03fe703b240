use kafka_utils::prelude::*;

#[derive(KafkaTopics)]
enum Topics {
    #[topic(name = "orders")]
    Orders,
}

fn main() {}
