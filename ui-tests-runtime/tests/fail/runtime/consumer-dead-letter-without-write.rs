use kafka_utils::consumer::{Consumer, RawRecord};
use kafka_utils::prelude::*;
use kafka_utils::producer::Producer;

#[derive(KafkaTopics)]
pub enum Topics {
    #[topic(name = "orders", message = u64, dead_letter = OrdersDlq)]
    Orders,
    #[topic(name = "orders.dlq", message = u64)]
    OrdersDlq,
}

#[derive(KafkaUsers)]
pub enum Users {
    #[user(name = "shop")]
    Shop,
}

permissions! {
    Users::Shop => {
        Topics::Orders => [Read, AutoCommitOffset],
        Topics::OrdersDlq => [Read],
    },
}

#[allow(dead_code)]
async fn decide(
    consumer: &Consumer<users::Shop, u64>,
    record: &RawRecord,
    producer: &Producer<users::Shop>,
) -> Result<(), kafka_utils::Error> {
    consumer.dead_letter(topics::Orders, record, producer).await
}

fn main() {}
