use kafka_utils::prelude::*;

#[derive(KafkaTopics)]
enum Topics<const N: usize> {
    #[topic(name = "orders", message = String)]
    Orders,
}

fn main() {}
