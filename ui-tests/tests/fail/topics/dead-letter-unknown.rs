use kafka_utils::prelude::*;

#[derive(KafkaTopics)]
pub enum Topics {
    #[topic(name = "orders", message = u64, dead_letter = OrderDlq)]
    Orders,
    #[topic(name = "orders.dlq", message = u64)]
    OrdersDlq,
}

fn main() {}
