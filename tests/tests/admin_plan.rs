//! KafkaAdmin against the real broker, through the SASL listener as `admin`: plan on an empty
//! cluster, apply, plan again is empty; out-of-band drift (a config, extra partitions, an
//! extra ACL) shows in the plan exactly and is fixed (or reported) by apply; the broker's
//! own DescribeAcls lists exactly the mapping table's ACLs; and the broker enforces them.

use std::time::Duration;

use kafka_utils::acl::{self, LiveAcl};
use kafka_utils::admin::cli::{self, Command, Outcome};
use kafka_utils::admin::{ApplyOptions, ConfigDrift, KafkaAdmin, Plan};
use kafka_utils::consumer::Consumer;
use kafka_utils::prelude::*;
use kafka_utils::producer::Producer;
use kafka_utils::settings::Settings;
use kafka_utils::topology::{AclBinding, AclOperation, PatternType, ResourceType};
use kafka_utils_tests::{Mechanism, TestCluster, TestUser, Transport};
use rdkafka::admin::{AdminOptions, AlterConfig, NewPartitions, ResourceSpecifier};
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;

#[derive(Debug, KafkaTopics)]
pub enum Topics {
    #[topic(name = "admin.orders", message = String, partitions = 3, replication_factor = 1,
            config(retention = "7d", cleanup_policy = "delete"))]
    Orders,
    #[topic(name = "admin.audit", message = String, partitions = 1,
            config(cleanup_policy = "compact", max_message_bytes = "64KiB"))]
    Audit,
}

#[derive(Debug, KafkaUsers)]
pub enum Users {
    /// The service: reads and writes orders in its group, writes the audit log.
    #[user(name = "dave", groups = ["dave-group"])]
    Dave,
    /// Reads orders, but may neither write them nor commit in any group.
    #[user(name = "bob")]
    Bob,
}

permissions! {
    Users::Dave => {
        Topics::Orders => [Read, Write, AutoCommitOffset],
        Topics::Audit => [Write],
    },
    Users::Bob => { Topics::Orders => [Read] },
}

const TIMEOUT: Duration = Duration::from_secs(60);

fn admin_settings() -> Settings {
    TestCluster::get().sasl_settings(
        Transport::Plaintext,
        Mechanism::ScramSha512,
        &TestUser::admin(),
    )
}

/// Removes what an earlier run left: the declared topics and the declared users' ACLs.
async fn clean_slate() {
    let cluster = TestCluster::get();
    let options = AdminOptions::new().operation_timeout(Some(TIMEOUT));
    let _ = cluster
        .admin()
        .delete_topics(&["admin.orders", "admin.audit"], &options)
        .await;
    let settings = cluster.settings();
    tokio::task::spawn_blocking(move || -> Result<(), kafka_utils::Error> {
        let admin = acl::admin_client(&settings)?;
        for principal in ["User:dave", "User:bob"] {
            let live = acl::describe_acls(&admin, principal, TIMEOUT)?;
            acl::delete_acls(&admin, &live, TIMEOUT)?;
        }
        Ok(())
    })
    .await
    .unwrap()
    .expect("the declared users' ACLs are removed");
    // Deletions reach the broker's metadata cache and authorizer a little after the
    // controller committed them: wait until the cluster shows nothing declared.
    let admin = KafkaAdmin::new(&settings_plaintext(), &TOPOLOGY).unwrap();
    for _ in 0..300 {
        let live = admin.live().await.unwrap();
        if live.topics.is_empty() && live.acls.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the declared topics and ACLs of an earlier run were not deleted");
}

/// The plan once `ready` holds for it (out-of-band changes take a moment to show).
async fn plan_when(admin: &KafkaAdmin, ready: impl Fn(&Plan) -> bool) -> Plan {
    for _ in 0..300 {
        let plan = admin.plan().await.unwrap();
        if ready(&plan) {
            return plan;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    admin.plan().await.unwrap()
}

fn settings_plaintext() -> Settings {
    TestCluster::get().settings()
}

async fn cli_run(args: &[&str]) -> (Outcome, String) {
    let mut out = Vec::new();
    let command = Command::parse(args).unwrap();
    let outcome = cli::run(&TOPOLOGY, command, &admin_settings(), &mut out)
        .await
        .unwrap_or_else(|e| panic!("`{}` failed: {e}", args.join(" ")));
    (outcome, String::from_utf8(out).unwrap())
}

/// The test's out-of-band changes, made with rust-rdkafka's own admin and our ACL calls.
async fn drift_out_of_band() -> LiveAcl {
    let cluster = TestCluster::get();
    let admin = cluster.admin();
    let options = AdminOptions::new().operation_timeout(Some(TIMEOUT));
    // Legacy AlterConfigs replaces the topic's configs: give both declared ones, one changed.
    let config = AlterConfig::new(ResourceSpecifier::Topic("admin.orders"))
        .set("retention.ms", "3600000")
        .set("cleanup.policy", "delete");
    let results = admin.alter_configs([&config], &options).await.unwrap();
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let grow = NewPartitions::new("admin.audit", 2);
    let results = admin.create_partitions([&grow], &options).await.unwrap();
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let extra = AclBinding {
        principal: "User:dave".into(),
        resource_type: ResourceType::Topic,
        resource_name: "admin.audit".into(),
        pattern_type: PatternType::Literal,
        operation: AclOperation::Read,
    };
    let settings = cluster.settings();
    let created = extra.clone();
    tokio::task::spawn_blocking(move || {
        acl::create_acls(&acl::admin_client(&settings)?, &[created], TIMEOUT)
    })
    .await
    .unwrap()
    .unwrap();
    LiveAcl::from(&extra)
}

async fn declared_users_acls() -> Vec<LiveAcl> {
    let settings = admin_settings();
    tokio::task::spawn_blocking(move || -> Result<Vec<LiveAcl>, kafka_utils::Error> {
        let admin = acl::admin_client(&settings)?;
        let mut all = acl::describe_acls(&admin, "User:dave", TIMEOUT)?;
        all.extend(acl::describe_acls(&admin, "User:bob", TIMEOUT)?);
        all.sort();
        Ok(all)
    })
    .await
    .unwrap()
    .unwrap()
}

#[tokio::test]
async fn plan_apply_drift_and_enforcement() {
    clean_slate().await;
    let admin = KafkaAdmin::new(&admin_settings(), &TOPOLOGY).unwrap();

    // On an empty cluster: both topics and every ACL of the mapping table.
    let (outcome, json) = cli_run(&["plan", "--json"]).await;
    assert_eq!(outcome, Outcome::Pending);
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["create_topics"].as_array().map(Vec::len), Some(2));
    let plan = admin.plan().await.unwrap();
    let topics: Vec<&str> = plan
        .create_topics
        .iter()
        .map(|t| t.topic.as_str())
        .collect();
    assert_eq!(topics, ["admin.orders", "admin.audit"]);
    assert_eq!(
        plan.create_topics[1].configs,
        [
            ("cleanup.policy".to_string(), "compact".to_string()),
            ("max.message.bytes".to_string(), "65536".to_string()),
        ]
    );
    assert_eq!(plan.add_acls, TOPOLOGY.acl_bindings());
    assert!(plan.add_partitions.is_empty() && plan.alter_configs.is_empty());
    assert!(plan.unfixable.is_empty() && plan.remove_acls.is_empty());
    println!("{plan}");

    let applied = admin.apply(&plan, ApplyOptions::default()).await.unwrap();
    assert_eq!(applied.topics_created.len(), 2, "{applied}");
    assert_eq!(applied.acls_created.len(), TOPOLOGY.acl_bindings().len());
    let again = admin.plan().await.unwrap();
    assert!(again.is_empty(), "a second plan is not empty:\n{again}");
    let (outcome, text) = cli_run(&["plan"]).await;
    assert_eq!(outcome, Outcome::Clean, "{text}");
    assert!(text.contains("No changes"), "{text}");
    let empty = admin.apply(&again, ApplyOptions::default()).await.unwrap();
    assert!(
        empty.is_empty(),
        "applying an empty plan did something: {empty}"
    );

    // The broker's own DescribeAcls lists exactly the mapping table.
    let expected: Vec<LiveAcl> = TOPOLOGY.acl_bindings().iter().map(LiveAcl::from).collect();
    let mut expected_sorted = expected.clone();
    expected_sorted.sort();
    assert_eq!(declared_users_acls().await, expected_sorted);

    // Out-of-band drift shows exactly.
    let extra = drift_out_of_band().await;
    let plan = plan_when(&admin, |p| {
        !p.alter_configs.is_empty() && !p.unfixable.is_empty() && !p.remove_acls.is_empty()
    })
    .await;
    assert_eq!(
        plan.alter_configs,
        [ConfigDrift {
            topic: "admin.orders".into(),
            key: "retention.ms".into(),
            desired: "604800000".into(),
            actual: Some("3600000".into()),
        }]
    );
    assert_eq!(plan.unfixable.len(), 1, "{plan}");
    assert_eq!(
        (
            plan.unfixable[0].topic.as_str(),
            plan.unfixable[0].what.as_str()
        ),
        ("admin.audit", "partitions")
    );
    assert_eq!(
        (plan.unfixable[0].desired, plan.unfixable[0].actual),
        (1, 2)
    );
    assert_eq!(plan.remove_acls, std::slice::from_ref(&extra));
    assert!(
        plan.create_topics.is_empty() && plan.add_partitions.is_empty() && plan.add_acls.is_empty()
    );
    println!("{plan}");

    // Applying fixes the config, leaves the extra ACL unless asked, never shrinks.
    let applied = admin.apply(&plan, ApplyOptions::default()).await.unwrap();
    assert_eq!(
        (applied.configs_set.len(), applied.acl_removals_skipped),
        (1, 1)
    );
    let after = admin.plan().await.unwrap();
    assert!(after.alter_configs.is_empty(), "{after}");
    assert_eq!(after.remove_acls, std::slice::from_ref(&extra));
    let (outcome, _) = cli_run(&["apply", "--allow-acl-removal"]).await;
    assert_eq!(outcome, Outcome::Clean);
    let after = admin.plan().await.unwrap();
    assert!(!after.has_changes(true), "{after}");
    assert_eq!(after.unfixable.len(), 1);
    assert_eq!(declared_users_acls().await, expected_sorted);

    enforcement().await;
    admin.disconnect();
}

/// The broker enforces what apply provisioned.
async fn enforcement() {
    let cluster = TestCluster::get();
    let dave = cluster.sasl_settings(Transport::Tls, Mechanism::ScramSha256, &TestUser::dave());
    let producer = Producer::<users::Dave>::new(&dave).unwrap();
    for i in 0..3 {
        let delivery = producer
            .send(topics::Orders, &format!("order {i}"))
            .await
            .unwrap();
        delivery.await.expect("dave may write admin.orders");
    }
    producer.close().await.unwrap();
    let consumer = Consumer::<users::Dave, String>::builder(&dave)
        .group("dave-group")
        .topic(topics::Orders)
        .build()
        .unwrap();
    let mut seen = 0;
    while seen < 3 {
        let batch = tokio::time::timeout(TIMEOUT, consumer.recv_batch())
            .await
            .expect("dave reads admin.orders")
            .expect("dave may read admin.orders");
        seen += batch.len();
        consumer.ack_batch(&batch).unwrap();
    }
    consumer
        .commit()
        .await
        .expect("dave may commit in dave-group");
    consumer.close().await.unwrap();

    // Bob may read but not write: the typed API does not even compile for that (see the
    // ui tests), so ask the broker with raw clients.
    let bob = cluster.sasl_config(Transport::Plaintext, Mechanism::Plain, &TestUser::bob());
    let producer: FutureProducer = bob
        .clone()
        .set("message.timeout.ms", "10000")
        .create()
        .unwrap();
    let (error, _) = producer
        .send(
            FutureRecord::<(), str>::to("admin.orders").payload("forged"),
            TIMEOUT,
        )
        .await
        .expect_err("bob has no Write on admin.orders");
    assert_eq!(
        error.rdkafka_error_code(),
        Some(RDKafkaErrorCode::TopicAuthorizationFailed),
        "{error}"
    );
    // ... and may not consume in a group (nor commit there): no group grant. librdkafka
    // reports the broker's refusal to find the group's coordinator as a consumer error.
    let consumer: BaseConsumer = bob.clone().set("group.id", "bob-group").create().unwrap();
    consumer.subscribe(&["admin.orders"]).unwrap();
    let deadline = std::time::Instant::now() + TIMEOUT;
    let mut refused = None;
    while refused.is_none() && std::time::Instant::now() < deadline {
        if let Some(Err(error)) = consumer.poll(Duration::from_millis(500))
            && error.rdkafka_error_code() == Some(RDKafkaErrorCode::GroupAuthorizationFailed)
        {
            refused = Some(error);
        }
    }
    let refused = refused.expect("bob is refused the group bob-group");
    assert!(refused.to_string().contains("authorization"), "{refused}");
}

/// Several instances applying the same topology at once all succeed.
#[tokio::test]
async fn concurrent_applies_are_safe() {
    // Its own topology and user, so that it does not race the test above.
    #[derive(Debug, KafkaTopics)]
    enum RaceTopics {
        #[topic(name = "admin.race", message = String, partitions = 2, config(retention = "1d"))]
        Race,
    }
    #[derive(Debug, KafkaUsers)]
    enum RaceUsers {
        #[user(name = "alice")]
        Alice,
    }
    permissions! { static RACE; RaceUsers::Alice => { RaceTopics::Race => [Write] } }

    let options = AdminOptions::new().operation_timeout(Some(TIMEOUT));
    let _ = TestCluster::get()
        .admin()
        .delete_topics(&["admin.race"], &options)
        .await;
    let settings = admin_settings();
    let admin = KafkaAdmin::new(&settings, &RACE).unwrap();
    for _ in 0..300 {
        if admin.live().await.unwrap().topics.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut tasks = Vec::new();
    for _ in 0..3 {
        let settings = settings.clone();
        tasks.push(tokio::spawn(async move {
            let admin = KafkaAdmin::new(&settings, &RACE)?;
            let mut plan: Plan = admin.plan().await?;
            // Alice's ACLs from other tests are not this test's business.
            plan.remove_acls.clear();
            admin.apply(&plan, ApplyOptions::default()).await
        }));
    }
    let (mut created, mut existing) = (0, 0);
    for task in tasks {
        let applied = task.await.unwrap().expect("a concurrent apply succeeds");
        created += applied.topics_created.len();
        existing += applied.topics_existing.len();
    }
    assert!(created <= 1, "the topic was created {created} times");
    assert!(created + existing >= 1);
    let plan = admin.plan().await.unwrap();
    assert!(
        plan.create_topics.is_empty() && plan.alter_configs.is_empty() && plan.add_acls.is_empty(),
        "{plan}"
    );
}
