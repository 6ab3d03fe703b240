use kafka_utils::prelude::*;

#[derive(KafkaTopics)]
enum Topics {
    #[topic(name = "shop.orders", message = String)]
    Orders,
    #[topic(name = "shop_orders", message = u64)]
    OrderIds,
}

fn main() {}
