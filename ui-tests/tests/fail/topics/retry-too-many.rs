use kafka_utils::prelude::*;

#[derive(KafkaTopics)]
pub enum Topics {
    #[topic(name = "orders", message = u64,
            retry = ["1s", "2s", "3s", "4s", "5s", "6s", "7s", "8s", "9s", "10s", "11s"])]
    Orders,
}

fn main() {}
