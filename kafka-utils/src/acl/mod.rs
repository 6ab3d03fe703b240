//! Kafka ACLs through librdkafka's admin API: create, describe, delete (rust-rdkafka has no
//! wrapper for them). [`crate::admin::KafkaAdmin`] uses these to provision what a topology's
//! grants imply; they are public for tools that manage ACLs themselves.
//!
//! The calls block until the broker answers (call them from `spawn_blocking` in async
//! code). The caller must be allowed to alter the cluster's ACLs (a super user, or `ALTER`
//! on the cluster). Creating an ACL that exists already succeeds.
//!
//! ```no_run
//! use std::time::Duration;
//! use kafka_utils::acl;
//! use kafka_utils::settings::Settings;
//!
//! # fn main() -> Result<(), kafka_utils::Error> {
//! let settings = Settings::from_env()?;
//! let admin = acl::admin_client(&settings)?;
//! for live in acl::describe_acls(&admin, "User:alice", Duration::from_secs(10))? {
//!     println!("{live}");
//! }
//! # Ok(()) }
//! ```

use std::time::Duration;

use crate::Error;
use crate::settings::Settings;
pub use crate::sys::AdminClient;

/// The former name of [`AdminClient`] (it clashed with [`crate::admin::KafkaAdmin`]).
#[deprecated(since = "0.1.0", note = "renamed `AdminClient`")]
pub type Admin = AdminClient;
use crate::topology::AclBinding;

pub(crate) mod live;

pub use live::LiveAcl;

/// An admin client for the cluster of `settings` (any security protocol).
pub fn admin_client(settings: &Settings) -> Result<AdminClient, Error> {
    settings
        .client_config()?
        .create()
        .map_err(|e| crate::settings::client_error("creating an admin client", e))
}

impl crate::settings::Rotate for AdminClient {
    fn set_credentials(&self, username: &str, password: &str) -> Result<(), String> {
        crate::sys::set_sasl_credentials(self.inner().native_client(), username, password)
    }

    fn refusal(&self) -> Option<&crate::refusal::Refusal> {
        None
    }
}

/// Creates `acls`, waiting up to `timeout` for the broker.
pub fn create_acls(
    admin: &AdminClient,
    acls: &[AclBinding],
    timeout: Duration,
) -> Result<(), Error> {
    crate::sys::acl::create_acls(admin, acls, timeout)
}

/// The ACLs of `principal` (`User:<name>`) on any resource.
pub fn describe_acls(
    admin: &AdminClient,
    principal: &str,
    timeout: Duration,
) -> Result<Vec<LiveAcl>, Error> {
    crate::sys::acl::describe_acls(admin, principal, timeout)
}

/// Deletes exactly `acls` (each must match a whole ACL: no empty name or host), and
/// returns the ACLs the broker deleted.
pub fn delete_acls(
    admin: &AdminClient,
    acls: &[LiveAcl],
    timeout: Duration,
) -> Result<Vec<LiveAcl>, Error> {
    crate::sys::acl::delete_acls(admin, acls, timeout)
}
