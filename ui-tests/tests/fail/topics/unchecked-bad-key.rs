use kafka_utils::prelude::*;

#[derive(KafkaTopics)]
enum Topics {
    #[topic(name = "orders", message = String, config(unchecked("Retention Ms" = "1000")))]
    Orders,
}

fn main() {}
