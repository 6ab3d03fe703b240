//! The examples' handlers, tested with the test kit as a service tests its own: on the
//! embedded cluster, or on the cluster of `KAFKA_BOOTSTRAP_SERVERS` when it is set.

use kafka_utils::metrics::Metrics;
use kafka_utils::prelude::*;
use kafka_utils::testing::*;
use kafka_utils_examples::{quickstart, request_response, service};

#[tokio::test]
async fn the_quickstart_handles_every_greeting() -> Result<(), kafka_utils::Error> {
    use quickstart::{Greeting, topics, users};
    let kit = TestKit::start(&quickstart::TOPOLOGY).await?;
    let app = kit.run(
        App::<users::Quickstart>::new(kit.settings())?.handle(topics::Greetings, quickstart::greet),
    )?;
    for n in 0..10 {
        let greeting = Greeting {
            text: format!("hello {n}"),
            from_pid: n,
        };
        kit.send_record(
            topics::Greetings,
            Record::new(&greeting).key(&"test".to_string()),
        )
        .await?;
    }
    app.settle().await?;
    let greetings = kit.read(topics::Greetings).await?;
    greetings.assert_count(10);
    assert_eq!(
        greetings.keys::<String>().unwrap(),
        vec!["test".to_string(); 10]
    );
    app.stop().await
}

#[tokio::test]
async fn the_order_service_accepts_small_orders_and_refuses_large_ones()
-> Result<(), kafka_utils::Error> {
    use request_response::{
        OrderRequest, OrderResponse, service_topics as topics, service_users as users,
    };
    let kit = TestKit::start(&request_response::TOPOLOGY).await?;
    let app = App::<users::Service>::new(kit.settings())?
        .handle(topics::Request, request_response::handle_request);
    let app = kit.run(app)?;
    for (id, quantity) in [(1, 4), (2, 40)] {
        let request = OrderRequest {
            id,
            item: "tea".into(),
            quantity,
        };
        kit.send_record(topics::Request, Record::new(&request).key(&id))
            .await?;
    }
    app.settle().await?;
    let responses = kit.read(topics::Response).await?;
    responses.assert_values_unordered(&[
        OrderResponse {
            id: 1,
            accepted: true,
            reason: None,
        },
        OrderResponse {
            id: 2,
            accepted: false,
            reason: Some("40 × tea is more than we keep".into()),
        },
    ]);
    // Each answer is keyed like its request.
    for response in responses.iter() {
        assert_eq!(response.key_as::<u64>().unwrap(), response.value.id);
    }
    app.stop().await
}

#[tokio::test]
async fn the_service_audits_each_order_and_counts_it() -> Result<(), kafka_utils::Error> {
    use service::{Audit, Order, topics, users};
    let kit = TestKit::start(&service::TOPOLOGY).await?;
    let metrics = Metrics::new();
    let counted = metrics.clone();
    let app = App::<users::OrderService>::new(kit.settings())?
        .handle(topics::Orders, move |order: Order, ctx| {
            service::handle(order, ctx, counted.clone())
        });
    let app = kit.run(app)?;
    for (id, amount_cents) in [(1, 500), (2, 250_000)] {
        kit.send_record(
            topics::Orders,
            Record::new(&Order { id, amount_cents }).key(&id),
        )
        .await?;
    }
    app.settle().await?;
    kit.read(topics::Audit).await?.assert_values_unordered(&[
        Audit {
            order: 1,
            accepted: true,
        },
        Audit {
            order: 2,
            accepted: false,
        },
    ]);
    let text = metrics.prometheus();
    assert!(text.contains("outcome=\"accepted\""), "{text}");
    assert!(text.contains("outcome=\"rejected\""), "{text}");
    app.stop().await
}
