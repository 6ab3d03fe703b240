use kafka_utils::prelude::*;

#[derive(KafkaTopics)]
enum Topics {
    #[topic(name = "orders", message = String, partition = 3)]
    Orders,
}

fn main() {}
