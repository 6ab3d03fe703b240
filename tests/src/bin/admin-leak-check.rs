//! Exercises every hand-written librdkafka admin call (CreateAcls, DescribeAcls, DeleteAcls,
//! IncrementalAlterConfigs, and their error paths) in a loop, for a leak checker:
//!
//! ```sh
//! cargo build -p kafka-utils-tests --bin admin-leak-check
//! bash broker/kafka.sh run valgrind --leak-check=full --errors-for-leak-kinds=definite \
//!     --error-exitcode=3 target/debug/admin-leak-check
//! ```
//!
//! It needs `KAFKA_BOOTSTRAP_SERVERS` (a super user's listener); `LEAK_CHECK_ROUNDS` sets
//! the rounds (default 10).

use std::time::Duration;

use kafka_utils::acl::{self, LiveAcl};
use kafka_utils::admin::{ApplyOptions, ConfigDrift, KafkaAdmin, Plan};
use kafka_utils::prelude::*;
use kafka_utils::settings::Settings;
use kafka_utils::topology::{AclBinding, AclOperation, PatternType, ResourceType};

#[derive(Debug, KafkaTopics)]
enum Topics {
    #[topic(name = "leak.check", message = String, partitions = 1)]
    Check,
}

#[derive(Debug, KafkaUsers)]
enum Users {
    #[user(name = "carol-leak-check")]
    Carol,
}

permissions! { Users::Carol => { Topics::Check => [Read, Write, AutoCommitOffset] } }

const TIMEOUT: Duration = Duration::from_secs(30);

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), kafka_utils::Error> {
    let settings = Settings::from_env()?;
    let rounds: usize = std::env::var("LEAK_CHECK_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(10);
    let admin = KafkaAdmin::new(&settings, &TOPOLOGY)?;
    let plan = admin.plan().await?;
    admin.apply(&plan, ApplyOptions::default()).await?;
    let client = acl::admin_client(&settings)?;
    let acls = TOPOLOGY.acl_bindings();
    let principal = "User:carol-leak-check";
    for round in 0..rounds {
        let described = acl::describe_acls(&client, principal, TIMEOUT)?;
        let deleted = acl::delete_acls(&client, &described, TIMEOUT)?;
        assert_eq!(
            deleted.len(),
            acls.len(),
            "round {round}: deleted {deleted:?}"
        );
        acl::create_acls(&client, &acls, TIMEOUT)?;
        // Error paths: an ACL librdkafka refuses to build, and a config the broker refuses.
        let invalid = AclBinding {
            principal: "nobody".into(), // no `User:` prefix
            resource_type: ResourceType::Topic,
            resource_name: "leak.check".into(),
            pattern_type: PatternType::Literal,
            operation: AclOperation::Read,
        };
        let refused = acl::create_acls(&client, std::slice::from_ref(&invalid), TIMEOUT);
        assert!(
            refused.is_err(),
            "an ACL without a principal type was accepted"
        );
        let mut bad = LiveAcl::from(&invalid);
        bad.operation = "Fly".into();
        assert!(acl::delete_acls(&client, &[bad], TIMEOUT).is_err());
        let drift = |value: &str| Plan {
            alter_configs: vec![ConfigDrift {
                topic: "leak.check".into(),
                key: "retention.ms".into(),
                desired: value.into(),
                actual: None,
            }],
            ..Plan::default()
        };
        admin
            .apply(
                &drift(&(3_600_000 + round).to_string()),
                ApplyOptions::default(),
            )
            .await?;
        let refused = admin.apply(&drift("soon"), ApplyOptions::default()).await;
        assert!(refused.is_err(), "retention.ms=soon was accepted");
    }
    println!("admin-leak-check: {rounds} rounds done");
    Ok(())
}
