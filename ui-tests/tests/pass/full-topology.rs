//! Every feature of the three macros at once, and what the generated code gives.

use kafka_utils::prelude::*;
use kafka_utils::topology::{AclOperation, PatternType, ResourceType};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct OrderRequest {
    pub id: u64,
    pub item: String,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct OrderResponse {
    pub id: u64,
    pub accepted: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, KafkaTopics)]
pub enum ServiceTopics {
    /// Incoming requests.
    #[topic(name = "service.request", message = OrderRequest, key = u64,
            partitions = 12, replication_factor = 3,
            config(retention = "7d", cleanup_policy = "delete", min_insync_replicas = 2))]
    Request,
    /// Answers.
    #[topic(name = "service.response", message = OrderResponse, partitions = 12)]
    Response,
    #[topic(name = "service.compacted", message = Vec<u8>, key = String,
            config(
                num_partitions = 3,
                replication_factor = 1,
                cleanup_policy = "compact,delete",
                retention_ms = 3600000,
                retention_bytes = "1GiB",
                segment_ms = "12h",
                segment_bytes = "512MiB",
                segment_index_bytes = "10MiB",
                segment_jitter_ms = "1m",
                max_message_bytes = "1MiB",
                compression_type = "zstd",
                delete_retention_ms = "1d",
                min_compaction_lag_ms = "30m",
                max_compaction_lag_ms = "1w",
                min_cleanable_dirty_ratio = 0.25,
                message_timestamp_type = "LogAppendTime",
                message_timestamp_before_max_ms = "1h",
                message_timestamp_after_max_ms = "1h30m",
                unclean_leader_election_enable = false,
                file_delete_delay_ms = "250ms",
                flush_ms = "45s",
                flush_messages = 10000,
                index_interval_bytes = 4096,
                preallocate = true,
                unchecked("follower.replication.throttled.replicas" = "*"),
            ))]
    Compacted,
    #[topic(name = "service.forever", message = String, config(retention = "infinite", retention_bytes = "unlimited"))]
    Forever,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, KafkaUsers)]
pub enum ServiceUsers {
    /// The service itself.
    #[user(name = "my-service", groups = ["my-service-group", "my-service-replay"])]
    Service,
    #[user(name = "external-service")]
    External,
}

permissions! {
    static SERVICE;
    ServiceUsers::Service => {
        ServiceTopics::Request => [Read, Write, AutoCommitOffset],
        ServiceTopics::Response => [Read, AutoCommitOffset],
    },
    ServiceUsers::External => { ServiceTopics::Request => [Write], ServiceTopics::Compacted => [Read, AutoCommitOffset] },
}

fn produce<U: User, T: WritableBy<U>>(_user: U, _topic: T, _message: &T::Message) {}
fn consume<U: User, T: ReadableBy<U> + CommittableBy<U>>(_user: U, _topic: T) {}

fn main() {
    // The enums as values.
    assert_eq!(ServiceTopics::ALL.len(), 4);
    assert_eq!(ServiceTopics::Request.name(), "service.request");
    assert_eq!(ServiceTopics::Request.to_string(), "service.request");
    assert_eq!(
        "service.response".parse::<ServiceTopics>(),
        Ok(ServiceTopics::Response)
    );
    assert!("service.nope".parse::<ServiceTopics>().is_err());
    assert_eq!(
        serde_json::to_string(&ServiceTopics::Request).unwrap(),
        "\"service.request\""
    );
    assert_eq!(
        serde_json::from_str::<ServiceUsers>("\"external-service\"").unwrap(),
        ServiceUsers::External
    );
    let err = serde_json::from_str::<ServiceUsers>("\"nobody\"").unwrap_err();
    assert!(err.to_string().contains("unknown user `nobody`"), "{err}");

    // The specs.
    let request = ServiceTopics::Request.spec();
    assert_eq!(request.partitions, Some(12));
    assert_eq!(request.replication_factor, Some(3));
    assert_eq!(request.config("retention.ms"), Some("604800000"));
    assert_eq!(request.config("cleanup.policy"), Some("delete"));
    assert_eq!(request.config("min.insync.replicas"), Some("2"));
    assert_eq!(request.message_type, "OrderRequest");
    assert_eq!(request.key_type, Some("u64"));
    assert_eq!(request.doc, "Incoming requests.");
    let compacted = ServiceTopics::Compacted.spec();
    assert_eq!(compacted.partitions, Some(3));
    assert_eq!(compacted.message_type, "Vec<u8>");
    assert_eq!(compacted.config("retention.bytes"), Some("1073741824"));
    assert_eq!(compacted.config("segment.ms"), Some("43200000"));
    assert_eq!(compacted.config("cleanup.policy"), Some("compact,delete"));
    assert_eq!(compacted.config("min.cleanable.dirty.ratio"), Some("0.25"));
    assert_eq!(
        compacted.config("message.timestamp.after.max.ms"),
        Some("5400000")
    );
    assert_eq!(
        compacted.config("follower.replication.throttled.replicas"),
        Some("*")
    );
    assert_eq!(compacted.configs.len(), 23);
    assert!(
        compacted.configs.windows(2).all(|w| w[0].0 < w[1].0),
        "sorted by key"
    );
    let forever = ServiceTopics::Forever.spec();
    assert_eq!(forever.config("retention.ms"), Some("-1"));
    assert_eq!(forever.config("retention.bytes"), Some("-1"));
    assert_eq!(
        ServiceUsers::Service.spec().groups,
        &["my-service-group", "my-service-replay"]
    );
    assert_eq!(ServiceUsers::Service.spec().doc, "The service itself.");

    // Topics and users as types.
    assert_eq!(<service_topics::Request as Topic>::NAME, "service.request");
    assert_eq!(<service_users::External as User>::NAME, "external-service");
    assert_eq!(
        ServiceTopics::from(service_topics::Response),
        ServiceTopics::Response
    );
    produce(
        service_users::Service,
        service_topics::Request,
        &OrderRequest {
            id: 1,
            item: "tea".into(),
        },
    );
    produce(
        service_users::External,
        service_topics::Request,
        &OrderRequest {
            id: 2,
            item: "cake".into(),
        },
    );
    consume(service_users::Service, service_topics::Response);
    consume(service_users::External, service_topics::Compacted);

    // The topology.
    assert_eq!(SERVICE.topics().count(), 4);
    assert_eq!(SERVICE.users().count(), 2);
    assert_eq!(SERVICE.grants.len(), 4);
    assert!(SERVICE.allows("external-service", "service.request", Permission::Write));
    assert!(!SERVICE.allows("external-service", "service.request", Permission::Read));
    let acls = SERVICE.acl_bindings();
    assert!(acls.iter().any(|a| a.principal == "User:my-service"
        && a.resource_type == ResourceType::Group
        && a.resource_name == "my-service-replay"
        && a.pattern_type == PatternType::Literal
        && a.operation == AclOperation::Read));
    assert!(acls.iter().any(|a| a.principal == "User:external-service"
        && a.resource_type == ResourceType::Group
        && a.resource_name == "external-service"
        && a.pattern_type == PatternType::Prefixed));
}
