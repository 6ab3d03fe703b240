//! The declared topology: topics with their specs, users with their groups, the grants
//! between them, and the Kafka ACL bindings those grants imply.
//!
//! `#[derive(KafkaTopics)]`, `#[derive(KafkaUsers)]` and `permissions!` build it at compile
//! time as a `static` [`Topology`]; the admin provisions what it says and the runtime reads it.
//!
//! | permission | ACLs (principal `User:<name>`, allow, any host) |
//! | --- | --- |
//! | [`Permission::Read`] | Topic `READ`, Topic `DESCRIBE`; and on each of the topic's retry topics (`retry = [...]`, see [`TopicSpec::retry_topics`]) `READ`, `WRITE` and `DESCRIBE`: the consuming app reads them and writes to them |
//! | [`Permission::Write`] | Topic `WRITE`, Topic `DESCRIBE` |
//! | [`Permission::AutoCommitOffset`] | Group `READ` and `DESCRIBE` on each declared group of the user (literal), or on the prefix `<user name>` when it declares none |

use std::collections::BTreeSet;
use std::fmt;

/// A topic as declared with `#[topic(...)]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicSpec {
    /// The Kafka topic name.
    pub name: &'static str,
    /// Partitions; `None` leaves it to the broker's `num.partitions`.
    pub partitions: Option<i32>,
    /// Replication factor; `None` leaves it to the broker's `default.replication.factor`.
    pub replication_factor: Option<i16>,
    /// Topic configs as Kafka takes them (`retention.ms` = `"604800000"`), sorted by key.
    pub configs: &'static [(&'static str, &'static str)],
    /// The Rust type of the messages, as written in the declaration.
    pub message_type: &'static str,
    /// The Rust type of the keys, as written, if the topic declares one.
    pub key_type: Option<&'static str>,
    /// The variant's doc comment.
    pub doc: &'static str,
    /// The topic (`dead_letter = Variant`) that takes the records an app could not handle.
    pub dead_letter: Option<&'static str>,
    /// Makes the message type's JSON Schema (see [`crate::schema`]).
    pub message_schema: crate::schema::SchemaFn,
    /// Makes the key type's JSON Schema (see [`crate::schema`]).
    pub key_schema: crate::schema::SchemaFn,
    /// The retry topics derived from `retry = ["10s", "1m"]`, one per delay in the order
    /// given, each named `<topic>.retry.<delay as written>` (`orders.retry.10s`): a record
    /// whose handler failed goes to the first, is handled again once its delay passed, then
    /// goes to the next, and after the last to the dead letter. They are topics of the
    /// topology ([`Topology::topics`]): created, granted and documented with it.
    pub retry_topics: &'static [TopicSpec],
    /// For a retry topic: which topic's records it retries, and after how long.
    pub retry_of: Option<RetryOf>,
}

/// What a retry topic retries (see [`TopicSpec::retry_topics`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryOf {
    /// The declared topic whose records it retries.
    pub origin: &'static str,
    /// Its place among the origin's retry topics: 1 for the first delay.
    pub step: u32,
    /// How long after its failure a record in it is handled again, in milliseconds.
    pub delay_ms: u64,
}

impl TopicSpec {
    /// The value of topic config `key` (a Kafka key such as `retention.ms`), if declared.
    pub fn config(&self, key: &str) -> Option<&'static str> {
        self.configs
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
    }
}

/// A user (a Kafka principal `User:<name>`) as declared with `#[user(...)]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserSpec {
    /// The principal name.
    pub name: &'static str,
    /// Consumer groups the user may commit offsets for.
    pub groups: &'static [&'static str],
    /// The variant's doc comment.
    pub doc: &'static str,
}

impl UserSpec {
    /// The Kafka principal, `User:<name>`.
    pub fn principal(&self) -> String {
        format!("User:{}", self.name)
    }
}

/// What a user may do on a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    /// Consume: fetch records, read committed offsets.
    Read,
    /// Produce, idempotent included.
    Write,
    /// Commit consumer offsets in the user's groups.
    AutoCommitOffset,
}

impl Permission {
    /// All permissions, in declaration order.
    pub const ALL: &'static [Permission] = &[
        Permission::Read,
        Permission::Write,
        Permission::AutoCommitOffset,
    ];

    /// The name as written in `permissions!`.
    pub const fn name(self) -> &'static str {
        match self {
            Permission::Read => "Read",
            Permission::Write => "Write",
            Permission::AutoCommitOffset => "AutoCommitOffset",
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The permissions one user holds on one topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    /// The user.
    pub user: &'static UserSpec,
    /// The topic.
    pub topic: &'static TopicSpec,
    /// What the user may do on it.
    pub permissions: &'static [Permission],
}

/// A Kafka resource type an ACL applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum ResourceType {
    /// A topic.
    Topic,
    /// A consumer group.
    Group,
}

/// How an ACL's resource name matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum PatternType {
    /// The exact name.
    Literal,
    /// Every name that starts with it.
    Prefixed,
}

/// A Kafka ACL operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum AclOperation {
    /// `READ`
    Read,
    /// `WRITE`
    Write,
    /// `DESCRIBE`
    Describe,
}

/// One ACL: allow `principal` to do `operation` on a resource, from any host.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct AclBinding {
    /// `User:<name>`.
    pub principal: String,
    /// Topic or group.
    pub resource_type: ResourceType,
    /// The topic or group name (or prefix).
    pub resource_name: String,
    /// Literal or prefixed.
    pub pattern_type: PatternType,
    /// What is allowed.
    pub operation: AclOperation,
}

impl fmt::Display for AclBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "allow {} {:?} on {:?} `{}` ({:?}) from any host",
            self.principal,
            self.operation,
            self.resource_type,
            self.resource_name,
            self.pattern_type
        )
    }
}

/// Everything a service declared: topics, users, grants.
///
/// `permissions!` makes one as a `static`; [`Topology::acl_bindings`] turns its grants into
/// the ACLs to provision.
#[derive(Debug, Clone, Copy)]
pub struct Topology {
    /// The topics, one slice per `#[derive(KafkaTopics)]` enum the grants mention.
    pub topic_sets: &'static [&'static [TopicSpec]],
    /// The users, one slice per `#[derive(KafkaUsers)]` enum the grants mention.
    pub user_sets: &'static [&'static [UserSpec]],
    /// The grants, in declaration order.
    pub grants: &'static [Grant],
}

impl Topology {
    /// Every declared topic, each followed by the retry topics derived from it.
    pub fn topics(&self) -> impl Iterator<Item = &'static TopicSpec> + '_ {
        self.topic_sets
            .iter()
            .flat_map(|set| set.iter())
            .flat_map(|t| std::iter::once(t).chain(t.retry_topics))
    }

    /// Every declared user.
    pub fn users(&self) -> impl Iterator<Item = &'static UserSpec> + '_ {
        self.user_sets.iter().flat_map(|set| set.iter())
    }

    /// The topic named `name`.
    pub fn topic(&self, name: &str) -> Option<&'static TopicSpec> {
        self.topics().find(|t| t.name == name)
    }

    /// The user named `name`.
    pub fn user(&self, name: &str) -> Option<&'static UserSpec> {
        self.users().find(|u| u.name == name)
    }

    /// Whether `user` holds `permission` on `topic` (both Kafka names): granted, or on a
    /// retry topic, `Read` and `Write` implied by `Read` on the topic it retries.
    pub fn allows(&self, user: &str, topic: &str, permission: Permission) -> bool {
        self.grants.iter().any(|g| {
            g.user.name == user
                && ((g.topic.name == topic && g.permissions.contains(&permission))
                    || (permission != Permission::AutoCommitOffset
                        && g.permissions.contains(&Permission::Read)
                        && g.topic.retry_topics.iter().any(|r| r.name == topic)))
        })
    }

    /// The ACL bindings the grants imply (the table in the module docs), sorted, without
    /// duplicates.
    pub fn acl_bindings(&self) -> Vec<AclBinding> {
        let mut acls = BTreeSet::new();
        let mut add = |user: &UserSpec, resource_type, name: &str, pattern_type, operation| {
            acls.insert(AclBinding {
                principal: user.principal(),
                resource_type,
                resource_name: name.to_string(),
                pattern_type,
                operation,
            });
        };
        for grant in self.grants {
            for permission in grant.permissions {
                match permission {
                    Permission::Read | Permission::Write => {
                        let operation = if *permission == Permission::Read {
                            AclOperation::Read
                        } else {
                            AclOperation::Write
                        };
                        for op in [operation, AclOperation::Describe] {
                            let (user, topic) = (grant.user, grant.topic.name);
                            add(user, ResourceType::Topic, topic, PatternType::Literal, op);
                        }
                        // Who consumes a topic retries its records through its retry topics.
                        if *permission == Permission::Read {
                            for retry in grant.topic.retry_topics {
                                for op in [
                                    AclOperation::Read,
                                    AclOperation::Write,
                                    AclOperation::Describe,
                                ] {
                                    let (user, topic) = (grant.user, retry.name);
                                    add(user, ResourceType::Topic, topic, PatternType::Literal, op);
                                }
                            }
                        }
                    }
                    Permission::AutoCommitOffset => {
                        let user = grant.user;
                        let groups: Vec<(&str, PatternType)> = if user.groups.is_empty() {
                            vec![(user.name, PatternType::Prefixed)]
                        } else {
                            user.groups
                                .iter()
                                .map(|g| (*g, PatternType::Literal))
                                .collect()
                        };
                        for (group, pattern) in groups {
                            for op in [AclOperation::Read, AclOperation::Describe] {
                                add(user, ResourceType::Group, group, pattern, op);
                            }
                        }
                    }
                }
            }
        }
        acls.into_iter().collect()
    }
}
