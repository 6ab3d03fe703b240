use kafka_utils::prelude::*;

#[derive(KafkaTopics)]
pub enum Topics {
    // `60s` and `1m` are the same delay; `10s` is given twice.
    #[topic(name = "orders", message = u64, retry = ["10s", "60s", "1m", "10s"])]
    Orders,
}

fn main() {}
