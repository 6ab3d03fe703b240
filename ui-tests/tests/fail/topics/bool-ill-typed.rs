use kafka_utils::prelude::*;

#[derive(KafkaTopics)]
enum Topics {
    #[topic(name = "orders", message = String, config(preallocate = "yes"))]
    Orders,
}

fn main() {}
