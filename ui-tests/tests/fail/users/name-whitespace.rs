use kafka_utils::prelude::*;

#[derive(KafkaUsers)]
enum Users {
    #[user(name = "my service")]
    Shop,
}

fn main() {}
