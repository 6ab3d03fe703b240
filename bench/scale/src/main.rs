//! `admin-scale`: on the cluster of `KAFKA_BOOTSTRAP_SERVERS` (its principal may create topics
//! and ACLs), times `plan` (on a cluster without the topology: what an earlier run left is
//! deleted first), `apply`, and the `plan` after it, which must find nothing to do; then
//! deletes what it created (unless `--keep`). Prints the figures as JSON on its last line.

use std::time::{Duration, Instant};

use kafka_utils::admin::{ApplyOptions, KafkaAdmin};
use kafka_utils::settings::Settings;
use kafka_utils_scale::TOPOLOGY;
use rdkafka::types::RDKafkaErrorCode;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, serde::Serialize)]
struct Figures {
    topics: usize,
    partitions: u64,
    acls: usize,
    plan_seconds: f64,
    planned_topics: usize,
    planned_acls: usize,
    apply_seconds: f64,
    replan_seconds: f64,
    replan_changes: bool,
    cleanup_seconds: f64,
}

#[tokio::main]
async fn main() {
    let keep = std::env::args().skip(1).any(|a| a == "--keep");
    match run(keep).await {
        Ok(figures) => match serde_json::to_string(&figures) {
            Ok(json) => println!("{json}"),
            Err(e) => fail(&e.to_string()),
        },
        Err(e) => fail(&e.to_string()),
    }
}

fn fail(message: &str) {
    eprintln!("admin-scale: {message}");
    std::process::exit(1);
}

fn seconds(since: Instant) -> f64 {
    since.elapsed().as_secs_f64()
}

async fn run(keep: bool) -> Result<Figures, BoxError> {
    let settings = Settings::from_env()?;
    let admin = KafkaAdmin::new(&settings, &TOPOLOGY)?;
    let topics = TOPOLOGY.topics().count();
    let partitions = TOPOLOGY
        .topics()
        .map(|t| t.partitions.map_or(0, |p| p.max(0) as u64))
        .sum();
    let acls = TOPOLOGY.acl_bindings().len();
    eprintln!("admin-scale: {topics} topics, {partitions} partitions, {acls} ACLs");

    let started = Instant::now();
    let mut plan = admin.plan().await?;
    let mut plan_seconds = seconds(started);
    let whole = |plan: &kafka_utils::admin::Plan| {
        plan.create_topics.len() == topics && plan.add_acls.len() == acls
    };
    if !whole(&plan) {
        // Left by a run that was stopped before it cleaned up: deleted, and planned again
        // once the cluster no longer has any of it.
        eprintln!(
            "admin-scale: the cluster holds part of the topology (an earlier run's); deleting it"
        );
        cleanup(&settings).await?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let started = Instant::now();
            plan = admin.plan().await?;
            plan_seconds = seconds(started);
            if whole(&plan) {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the cluster still holds part of the topology 60 s after deleting it: the plan creates {} of {topics} topics and {} of {acls} ACLs",
                    plan.create_topics.len(),
                    plan.add_acls.len()
                )
                .into());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    let (planned_topics, planned_acls) = (plan.create_topics.len(), plan.add_acls.len());

    let started = Instant::now();
    admin.apply(&plan, ApplyOptions::default()).await?;
    let apply_seconds = seconds(started);

    let started = Instant::now();
    let replan = admin.plan().await?;
    let replan_seconds = seconds(started);
    let replan_changes = replan.has_changes(true);
    if replan_changes {
        eprint!("admin-scale: the plan after apply is not empty:\n{replan}");
    }

    let started = Instant::now();
    if !keep {
        cleanup(&settings).await?;
    }
    Ok(Figures {
        topics,
        partitions,
        acls,
        plan_seconds,
        planned_topics,
        planned_acls,
        apply_seconds,
        replan_seconds,
        replan_changes,
        cleanup_seconds: seconds(started),
    })
}

/// Deletes the scale topics and the readers' ACLs.
async fn cleanup(settings: &Settings) -> Result<(), BoxError> {
    let admin = std::sync::Arc::new(kafka_utils::acl::admin_client(settings)?);
    let timeout = Duration::from_secs(120);
    let users: Vec<String> = TOPOLOGY.users().map(|u| u.principal()).collect();
    let acls = std::sync::Arc::clone(&admin);
    tokio::task::spawn_blocking(move || -> Result<(), BoxError> {
        for principal in &users {
            let live = kafka_utils::acl::describe_acls(&acls, principal, timeout)?;
            kafka_utils::acl::delete_acls(&acls, &live, timeout)?;
        }
        Ok(())
    })
    .await??;
    let names: Vec<&str> = TOPOLOGY.topics().map(|t| t.name).collect();
    let options = rdkafka::admin::AdminOptions::new().operation_timeout(Some(timeout));
    for chunk in names.chunks(200) {
        for result in admin.delete_topics(chunk, &options).await? {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::UnknownTopicOrPartition)) => {}
                Err((topic, code)) => {
                    return Err(format!("deleting topic `{topic}`: {code}").into());
                }
            }
        }
    }
    Ok(())
}
