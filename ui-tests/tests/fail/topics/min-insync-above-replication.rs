use kafka_utils::prelude::*;

#[derive(KafkaTopics)]
enum Topics {
    #[topic(name = "orders", message = String, replication_factor = 2,
            config(min_insync_replicas = 3))]
    Orders,
}

fn main() {}
