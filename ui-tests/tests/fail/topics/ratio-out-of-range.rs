use kafka_utils::prelude::*;

#[derive(KafkaTopics)]
enum Topics {
    #[topic(name = "orders", message = String, config(min_cleanable_dirty_ratio = 1.5))]
    Orders,
}

fn main() {}
