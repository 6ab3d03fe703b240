use kafka_utils::app::{App, Context};
use kafka_utils::prelude::*;
use kafka_utils::settings::Settings;

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

async fn take(_order: u64, _ctx: Context<users::Shop>) -> Result<(), kafka_utils::Error> {
    Ok(())
}

#[allow(dead_code)]
fn service(settings: &Settings) -> Result<(), kafka_utils::Error> {
    let _app = App::<users::Shop>::new(settings)?.handle(topics::Orders, take);
    Ok(())
}

fn main() {}
