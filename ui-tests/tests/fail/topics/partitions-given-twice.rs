use kafka_utils::prelude::*;

#[derive(KafkaTopics)]
enum Topics {
    #[topic(name = "orders", message = String, partitions = 3, config(num_partitions = 6))]
    Orders,
}

fn main() {}
