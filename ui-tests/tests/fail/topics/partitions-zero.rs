use kafka_utils::prelude::*;

#[derive(KafkaTopics)]
enum Topics {
    #[topic(name = "orders", message = String, partitions = 0)]
    Orders,
}

fn main() {}
