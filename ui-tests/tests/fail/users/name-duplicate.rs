use kafka_utils::prelude::*;

#[derive(KafkaUsers)]
enum Users {
    #[user(name = "shop")]
    Shop,
    #[user(name = "shop")]
    Backoffice,
}

fn main() {}
