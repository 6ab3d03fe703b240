use kafka_utils::prelude::*;

#[derive(KafkaTopics)]
enum Topics {
    #[topic(name = "orders", message = String, replication_factor = 40000)]
    Orders,
}

fn main() {}
