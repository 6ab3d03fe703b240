use kafka_utils::prelude::*;

#[derive(KafkaUsers)]
enum Users {
    #[user(name = "shop", groups = ["shop-group", "shop-group"])]
    Shop,
}

fn main() {}
