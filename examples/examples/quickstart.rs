//! Quickstart: declare a topic and a user, produce a message, handle it.
//!
//! ```sh
//! cargo run -p kafka-utils-examples --example quickstart
//! ```
//!
//! With no `KAFKA_BOOTSTRAP_SERVERS` set it runs on the embedded default, librdkafka's
//! in-process mock cluster, and says so; with it set, on that cluster, with every other
//! setting from the environment and `.env` as a service would (creating the topic there).
//!
//! Given a command, it is its topology's admin command line instead
//! (`kafka_utils::admin::cli`): `quickstart asyncapi --yaml` prints its AsyncAPI document,
//! `quickstart schema` its JSON Schemas, `quickstart plan` what the cluster lacks.

use kafka_utils::admin::KafkaAdmin;
use kafka_utils::embedded::EmbeddedCluster;
use kafka_utils::prelude::*;
use kafka_utils_examples::quickstart::{Greeting, TOPOLOGY, greet, topics, users};
use tokio::sync::mpsc;

fn main() -> std::process::ExitCode {
    if std::env::args().len() > 1 {
        return kafka_utils::admin::cli::main(&TOPOLOGY);
    }
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    match runtime.block_on(quickstart()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn quickstart() -> Result<(), Box<dyn std::error::Error>> {
    let mut settings = Settings::from_env()?;
    // Keep the embedded cluster alive for the whole run.
    let _embedded = match &settings.bootstrap_servers {
        Some(servers) => {
            println!("quickstart: using the cluster at KAFKA_BOOTSTRAP_SERVERS={servers}");
            // The declared topics, with their partitions and configs (existing ones are fine).
            let admin = KafkaAdmin::new(&settings, &TOPOLOGY)?;
            print!("{}", admin.ensure_topics().await?);
            admin.disconnect();
            None
        }
        None => {
            let cluster = EmbeddedCluster::start(1)?;
            for topic in TOPOLOGY.topics() {
                cluster.create_topic(topic.name, topic.partitions.unwrap_or(1))?;
            }
            println!(
                "quickstart: KAFKA_BOOTSTRAP_SERVERS is not set, so running on the embedded \
                 default (librdkafka's in-process mock cluster at {})",
                cluster.bootstrap_servers()
            );
            settings.bootstrap_servers = Some(cluster.bootstrap_servers());
            Some(cluster)
        }
    };

    let producer = Producer::<users::Quickstart>::new(&settings)?;
    let greeting = Greeting {
        text: "hello from kafka-utils".into(),
        from_pid: std::process::id(),
    };
    let key = "quickstart".to_string();
    let delivered = producer
        .send_record(topics::Greetings, Record::new(&greeting).key(&key))
        .await?
        .await?;
    println!(
        "produced: {greeting:?} to {} partition {} offset {}",
        delivered.topic, delivered.partition, delivered.offset
    );

    // Handle greetings until ours has come back, then stop gracefully.
    let (seen_tx, mut seen_rx) = mpsc::unbounded_channel();
    let pid = greeting.from_pid;
    let app = App::<users::Quickstart>::new(&settings)?.handle(
        topics::Greetings,
        move |greeting: Greeting, ctx: Context<users::Quickstart>| {
            let seen = seen_tx.clone();
            let ours = greeting.from_pid == pid;
            async move {
                let handled = greet(greeting, ctx).await;
                if ours {
                    let _ = seen.send(());
                }
                handled
            }
        },
    );
    let wait = async move {
        let _ = seen_rx.recv().await;
    };
    tokio::time::timeout(std::time::Duration::from_secs(60), app.run_until(wait))
        .await
        .map_err(|_| "the greeting did not come back within 60 s")??;
    producer.close().await?;
    Ok(())
}
