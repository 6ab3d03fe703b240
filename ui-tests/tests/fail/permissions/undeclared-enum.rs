use kafka_utils::prelude::*;

#[derive(KafkaTopics)]
pub enum Topics {
    #[topic(name = "orders", message = String, key = u64)]
    Orders,
    #[topic(name = "refunds", message = u64)]
    Refunds,
}

#[derive(KafkaUsers)]
pub enum Users {
    #[user(name = "shop", groups = ["shop-group"])]
    Shop,
    #[user(name = "auditor")]
    Auditor,
}

permissions! {
    Users::Shop => { Topic::Orders => [Read] },
}

fn main() {}
