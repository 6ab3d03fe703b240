use kafka_utils::prelude::*;

#[derive(KafkaTopics)]
enum Topics {
    #[topic(name = "orders", message = String)]
    Orders,
    #[topic(name = "orders", message = u64)]
    OrderIds,
}

fn main() {}
