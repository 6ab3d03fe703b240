#![allow(unused_imports)]

use kafka_utils::app::{App, Context};
use kafka_utils::consumer::Consumer;
use kafka_utils::prelude::*;
use kafka_utils::producer::Producer;
use kafka_utils::settings::Settings;

#[derive(KafkaTopics)]
pub enum Topics {
    #[topic(name = "orders", message = String, key = u64)]
    Orders,
    #[topic(name = "refunds", message = u64)]
    Refunds,
    #[topic(name = "audit", message = u64)]
    Audit,
}

#[derive(KafkaUsers)]
pub enum Users {
    #[user(name = "shop", groups = ["shop-group"])]
    Shop,
    #[user(name = "auditor")]
    Auditor,
}

permissions! {
    Users::Shop => {
        Topics::Orders => [Read, Write, AutoCommitOffset],
        Topics::Refunds => [Write],
    },
    Users::Auditor => { Topics::Orders => [Read] },
}

#[allow(dead_code, unused_variables)]
async fn service(settings: Settings) -> Result<(), kafka_utils::Error> {
    App::<users::Shop>::new(&settings)?
        .handle(topics::Orders, |order: String, ctx: Context<users::Shop>| async move {
            ctx.producer().send(topics::Audit, &1).await.map_err(|e| e.to_string())?;
            Ok::<(), String>(())
        })
        .run()
        .await?;
    Ok(())
}

fn main() {}
