use kafka_utils::prelude::*;

#[derive(KafkaUsers)]
enum Users {
    #[user(groups = ["shop-group"])]
    Shop,
}

fn main() {}
