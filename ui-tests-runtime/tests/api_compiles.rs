//! The runtime API as a service uses it, granted: this file must compile (the compile-fail
//! cases beside it are the same calls without the grant).
#![allow(unused_imports, missing_debug_implementations)]

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
    let producer = Producer::<users::Shop>::new(&settings)?;
    let report = producer.send(topics::Refunds, &7).await?.await?;
    let _ = report.offset;
    let consumer = Consumer::<users::Shop, String>::builder(&settings)
        .group("shop-group")
        .topic(topics::Orders)
        .build()?;
    let received = consumer.recv().await?;
    consumer.ack(&received)?;
    let _key: u64 = received
        .key_as()
        .map_err(|e| kafka_utils::Error::Runtime(e.to_string()))?;
    App::<users::Shop>::new(&settings)?
        .handle(
            topics::Orders,
            |order: String, ctx: Context<users::Shop>| async move {
                ctx.producer()
                    .send(topics::Refunds, &(order.len() as u64))
                    .await?
                    .await?;
                Ok::<(), kafka_utils::Error>(())
            },
        )
        .run()
        .await?;
    Ok(())
}

#[test]
fn the_typed_api_compiles() {
    // Compiles the API use above; running it needs a cluster.
    let _ = service;
}
