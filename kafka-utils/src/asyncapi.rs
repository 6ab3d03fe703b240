//! An AsyncAPI 3.0 document of the topology, for the catalogues and code generators that
//! read AsyncAPI.
//!
//! # What the document holds
//!
//! - `servers`: from the settings, with their security scheme (SASL mechanism, TLS).
//! - `channels`: one per topic, with its Kafka binding (partitions, replicas, topic
//!   configuration).
//! - `components.messages`: one per topic, with its payload and key schemas (see
//!   [`crate::schema`]).
//! - `operations`: one per grant: `send` where `Write`, `receive` where `Read`, with the
//!   user's consumer groups.
//! - What other generators do not know: every topic config and the ACLs
//!   (`x-kafka-utils-configs`, `x-kafka-utils-acls`).
//!
//! [`document`] gives it as JSON, [`to_yaml`] as YAML; the admin command line prints it
//! (`asyncapi [--yaml]`).
//!
//! # Example
//!
//! ```
//! use kafka_utils::asyncapi::{self, Info};
//! use kafka_utils::prelude::*;
//! use kafka_utils::settings::Settings;
//!
//! #[derive(KafkaTopics)]
//! pub enum Topics {
//!     #[topic(name = "orders", message = String, partitions = 3)]
//!     Orders,
//! }
//! #[derive(KafkaUsers)]
//! pub enum Users {
//!     #[user(name = "shop", groups = ["shop"])]
//!     Shop,
//! }
//! permissions! { Users::Shop => { Topics::Orders => [Read, Write, AutoCommitOffset] } }
//!
//! let document = asyncapi::document(&TOPOLOGY, &Settings::new("kafka:9092"), &Info::new("Shop", "1.0.0"));
//! assert_eq!(document["asyncapi"], "3.0.0");
//! assert_eq!(document["channels"]["orders"]["bindings"]["kafka"]["partitions"], 3);
//! assert_eq!(document["operations"]["shop.receive.orders"]["action"], "receive");
//! ```

use serde_json::{Map, Value, json};

use crate::Error;
use crate::schema::{self, Draft};
use crate::settings::{SaslMechanism, SecurityProtocol, Settings};
use crate::topology::{Permission, TopicSpec, Topology};

/// The Kafka bindings' version this document follows.
const BINDING_VERSION: &str = "0.5.0";

/// The document's `info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    /// `info.title`
    pub title: String,
    /// `info.version`: the version of the API (the topology), not of AsyncAPI.
    pub version: String,
    /// `info.description`
    pub description: Option<String>,
}

impl Info {
    /// A title and a version.
    pub fn new(title: impl Into<String>, version: impl Into<String>) -> Self {
        Info {
            title: title.into(),
            version: version.into(),
            description: None,
        }
    }
}

/// The AsyncAPI 3.0 document of `topology`, with servers from `settings` (none when it
/// names no cluster).
pub fn document(topology: &Topology, settings: &Settings, info: &Info) -> Value {
    let mut doc = Map::new();
    doc.insert("asyncapi".into(), json!("3.0.0"));
    let mut info_value = json!({"title": info.title, "version": info.version});
    if let Some(description) = &info.description {
        info_value["description"] = json!(description);
    }
    doc.insert("info".into(), info_value);
    doc.insert("defaultContentType".into(), json!("application/json"));
    let mut components = Map::new();
    if let Some((servers, schemes)) = servers(settings) {
        doc.insert("servers".into(), servers);
        if !schemes.is_empty() {
            components.insert("securitySchemes".into(), Value::Object(schemes));
        }
    }
    let mut channels = Map::new();
    let mut messages = Map::new();
    for topic in topology.topics() {
        channels.insert(topic.name.into(), channel(topic));
        messages.insert(topic.name.into(), message(topic));
    }
    doc.insert("channels".into(), Value::Object(channels));
    doc.insert("operations".into(), operations(topology));
    components.insert("messages".into(), Value::Object(messages));
    doc.insert("components".into(), Value::Object(components));
    let acls: Vec<Value> = topology
        .acl_bindings()
        .iter()
        .map(|binding| {
            let mut acl = serde_json::to_value(binding).unwrap_or_default();
            acl["permission"] = json!("Allow");
            acl["host"] = json!("*");
            acl
        })
        .collect();
    doc.insert("x-kafka-utils-acls".into(), Value::Array(acls));
    Value::Object(doc)
}

/// The document as YAML.
pub fn to_yaml(document: &Value) -> Result<String, Error> {
    serde_yaml_ng::to_string(document)
        .map_err(|e| Error::Runtime(format!("writing the AsyncAPI document as YAML: {e}")))
}

/// One server per bootstrap address, and the security scheme they share.
fn servers(settings: &Settings) -> Option<(Value, Map<String, Value>)> {
    let bootstrap = settings.bootstrap_servers.as_deref()?;
    let protocol = settings.security_protocol;
    let (tls, scheme) = match protocol {
        SecurityProtocol::Plaintext => (false, None),
        SecurityProtocol::Ssl => (
            true,
            settings.ssl_certfile.is_some().then(|| {
                (
                    "x509",
                    json!({"type": "X509", "description": "TLS with a client certificate (KAFKA_SSL_CERTFILE, KAFKA_SSL_KEYFILE); the principal is its CN"}),
                )
            }),
        ),
        SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl => {
            let (id, kind) = match settings.sasl_mechanism {
                SaslMechanism::Plain => ("plain", "plain"),
                SaslMechanism::ScramSha256 => ("scramSha256", "scramSha256"),
                SaslMechanism::ScramSha512 => ("scramSha512", "scramSha512"),
            };
            let description = format!(
                "SASL {} (KAFKA_USERNAME, KAFKA_PASSWORD){}",
                settings.sasl_mechanism.as_str(),
                if protocol == SecurityProtocol::SaslSsl {
                    " over TLS"
                } else {
                    ""
                }
            );
            (
                protocol == SecurityProtocol::SaslSsl,
                Some((id, json!({"type": kind, "description": description}))),
            )
        }
    };
    let mut schemes = Map::new();
    let mut servers = Map::new();
    for (index, host) in bootstrap.split(',').map(str::trim).enumerate() {
        let mut server = json!({
            "host": host,
            "protocol": if tls { "kafka-secure" } else { "kafka" },
            "description": format!("bootstrap server ({})", protocol.as_str()),
        });
        if let Some((id, _)) = &scheme {
            server["security"] = json!([{"$ref": format!("#/components/securitySchemes/{id}")}]);
        }
        servers.insert(format!("broker{}", index + 1), server);
    }
    if let Some((id, value)) = scheme {
        schemes.insert(id.into(), value);
    }
    Some((Value::Object(servers), schemes))
}

/// A channel: the topic, its Kafka binding, and every config.
fn channel(topic: &TopicSpec) -> Value {
    let mut binding = json!({"topic": topic.name, "bindingVersion": BINDING_VERSION});
    if let Some(partitions) = topic.partitions {
        binding["partitions"] = json!(partitions);
    }
    if let Some(replicas) = topic.replication_factor {
        binding["replicas"] = json!(replicas);
    }
    let configuration = topic_configuration(topic);
    if !configuration.is_empty() {
        binding["topicConfiguration"] = Value::Object(configuration);
    }
    let configs: Map<String, Value> = topic
        .configs
        .iter()
        .map(|(k, v)| ((*k).to_string(), json!(v)))
        .collect();
    let mut channel = json!({
        "address": topic.name,
        "messages": {(topic.name): {"$ref": format!("#/components/messages/{}", topic.name)}},
        "bindings": {"kafka": binding},
        "x-kafka-utils-configs": configs,
    });
    if !topic.doc.is_empty() {
        channel["description"] = json!(topic.doc);
    }
    if let Some(dead_letter) = topic.dead_letter {
        channel["x-kafka-utils-dead-letter"] = json!({"$ref": format!("#/channels/{dead_letter}")});
    }
    if !topic.retry_topics.is_empty() {
        let retries: Vec<Value> = topic
            .retry_topics
            .iter()
            .map(|r| json!({"$ref": format!("#/channels/{}", r.name)}))
            .collect();
        channel["x-kafka-utils-retry-topics"] = Value::Array(retries);
    }
    if let Some(of) = topic.retry_of {
        channel["x-kafka-utils-retry-of"] = json!({
            "channel": {"$ref": format!("#/channels/{}", of.origin)},
            "step": of.step,
            "delayMs": of.delay_ms,
        });
    }
    channel
}

/// The configs the Kafka channel binding knows, typed as it wants them.
fn topic_configuration(topic: &TopicSpec) -> Map<String, Value> {
    let mut configuration = Map::new();
    for (key, value) in topic.configs {
        let typed = match *key {
            "cleanup.policy" => json!(value.split(',').map(str::trim).collect::<Vec<_>>()),
            "retention.ms" | "retention.bytes" | "delete.retention.ms" | "max.message.bytes" => {
                match value.parse::<i64>() {
                    Ok(n) => json!(n),
                    Err(_) => continue,
                }
            }
            _ => continue,
        };
        configuration.insert((*key).to_string(), typed);
    }
    configuration
}

/// A message: the payload schema (JSON Schema draft-07) and the key's.
fn message(topic: &TopicSpec) -> Value {
    let mut message = json!({
        "name": topic.message_type,
        "title": format!("{} on {}", topic.message_type, topic.name),
        "contentType": "application/json",
        "x-rust-type": topic.message_type,
    });
    if let Some(payload) = schema::message_schema(topic, Draft::Draft07) {
        message["payload"] = json!({
            "schemaFormat": "application/schema+json;version=draft-07",
            "schema": payload,
        });
    }
    if let Some(key_type) = topic.key_type {
        let mut binding = json!({"bindingVersion": BINDING_VERSION});
        if let Some(mut key) = schema::key_schema(topic, Draft::Draft07) {
            if let Some(key) = key.as_object_mut() {
                key.remove("$schema");
            }
            binding["key"] = key;
        }
        message["bindings"] = json!({"kafka": binding});
        message["x-rust-key-type"] = json!(key_type);
    }
    message
}

/// `send` for each `Write` grant, `receive` for each `Read` grant (with the user's groups).
fn operations(topology: &Topology) -> Value {
    let mut operations = Map::new();
    for grant in topology.grants {
        let (user, topic) = (grant.user, grant.topic);
        let channel = json!({"$ref": format!("#/channels/{}", topic.name)});
        let messages =
            json!([{"$ref": format!("#/channels/{}/messages/{}", topic.name, topic.name)}]);
        for permission in grant.permissions {
            let action = match permission {
                Permission::Write => "send",
                Permission::Read => "receive",
                Permission::AutoCommitOffset => continue,
            };
            let mut operation = json!({
                "action": action,
                "channel": channel,
                "messages": messages,
                "summary": format!("{} {action}s {}", user.name, topic.name),
                "x-kafka-utils-user": user.name,
            });
            if *permission == Permission::Read {
                let groups: Vec<String> = if user.groups.is_empty() {
                    vec![format!("{}*", user.name)]
                } else {
                    user.groups.iter().map(|g| (*g).to_string()).collect()
                };
                operation["bindings"] = json!({"kafka": {
                    "groupId": {"type": "string", "enum": groups},
                    "clientId": {"type": "string", "enum": [user.name]},
                    "bindingVersion": BINDING_VERSION,
                }});
            }
            operations.insert(format!("{}.{action}.{}", user.name, topic.name), operation);
        }
        // Who receives a topic sends its failed records to its retry topics and receives
        // them back.
        if grant.permissions.contains(&Permission::Read) {
            for retry in topic.retry_topics {
                for action in ["send", "receive"] {
                    let operation = json!({
                        "action": action,
                        "channel": {"$ref": format!("#/channels/{}", retry.name)},
                        "messages": [{"$ref": format!("#/channels/{}/messages/{}", retry.name, retry.name)}],
                        "summary": format!("{} {action}s {} (retries of {})", user.name, retry.name, topic.name),
                        "x-kafka-utils-user": user.name,
                    });
                    operations.insert(format!("{}.{action}.{}", user.name, retry.name), operation);
                }
            }
        }
    }
    Value::Object(operations)
}
