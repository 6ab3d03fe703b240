//! Request/response between two users: a shop sends order requests, the order service
//! answers each on the response topic, keyed by order id.
//!
//! ```sh
//! cargo run -p kafka-utils-examples --example request_response
//! ```
//!
//! Each side can do only what its grants say: the shop may write requests and read
//! responses, the service may read requests and write responses. Runs on the embedded
//! cluster unless `KAFKA_BOOTSTRAP_SERVERS` is set (the topics must exist there).

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_utils::embedded::EmbeddedCluster;
use kafka_utils::prelude::*;
use kafka_utils_examples::request_response::{
    OrderRequest, OrderResponse, TOPOLOGY, handle_request, service_topics, service_users,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut settings = Settings::from_env()?;
    let _embedded = if settings.bootstrap_servers.is_none() {
        let cluster = EmbeddedCluster::start(1)?;
        for topic in TOPOLOGY.topics() {
            cluster.create_topic(topic.name, topic.partitions.unwrap_or(1))?;
        }
        println!(
            "request_response: on the embedded cluster at {}",
            cluster.bootstrap_servers()
        );
        settings.bootstrap_servers = Some(cluster.bootstrap_servers());
        Some(cluster)
    } else {
        None
    };

    // The shop: send five requests.
    let shop = Producer::<service_users::External>::new(&settings)?;
    let requests: Vec<OrderRequest> = (1..=5)
        .map(|id| OrderRequest {
            id,
            item: "tea".into(),
            quantity: (id * 4) as u32,
        })
        .collect();
    let mut pending = Vec::new();
    for request in &requests {
        pending.push(
            shop.send_record(
                service_topics::Request,
                Record::new(request).key(&request.id),
            )
            .await?,
        );
    }
    for delivery in pending {
        delivery.await?;
    }
    println!("shop: sent {} requests", requests.len());

    // The shop's response reader; the service runs until every answer is in.
    let responses = Consumer::<service_users::External, OrderResponse>::builder(&settings)
        .topic(service_topics::Response)
        .build()?;
    let service = App::<service_users::Service>::new(&settings)?
        .handle(service_topics::Request, handle_request);
    let collect = async {
        let mut answers = BTreeMap::new();
        while answers.len() < requests.len() {
            match responses.recv().await {
                Ok(response) => {
                    responses.ack(&response).ok();
                    answers.insert(response.value.id, response.value);
                }
                Err(e) => eprintln!("shop: {e}"),
            }
        }
        for answer in answers.values() {
            println!(
                "shop: order {} {}",
                answer.id,
                match &answer.reason {
                    None => "accepted".to_string(),
                    Some(reason) => format!("refused: {reason}"),
                }
            );
        }
    };
    tokio::time::timeout(Duration::from_secs(60), service.run_until(collect))
        .await
        .map_err(|_| "not every answer came back within 60 s")??;
    responses.close().await?;
    shop.close().await?;
    Ok(())
}
