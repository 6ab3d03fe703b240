use kafka_utils::prelude::*;

#[derive(KafkaTopics)]
enum Topics {
    #[topic(name = "", message = String)]
    Orders,
}

fn main() {}
