//! SCRAM credentials through librdkafka's admin API (KIP-554; rust-rdkafka has no wrapper):
//! set a user's password, as an operator rotating it does. The clients of a service that
//! reads its password from a file (`KAFKA_PASSWORD_FILE`) take the new one when the file
//! changes, without a restart (see [`crate::settings`]).
//!
//! The call blocks until the broker answers (call it from `spawn_blocking` in async code).
//! The caller must be allowed to alter the cluster (a super user, or `ALTER` on the
//! cluster).
//!
//! ```no_run
//! use std::time::Duration;
//! use kafka_utils::settings::{SaslMechanism, Secret, Settings};
//! use kafka_utils::{acl, scram};
//!
//! # fn main() -> Result<(), kafka_utils::Error> {
//! let admin = acl::admin_client(&Settings::from_env()?)?;
//! let password = Secret::new("a new password".to_string());
//! scram::set_password(&admin, "alice", SaslMechanism::ScramSha512, &password, Duration::from_secs(10))?;
//! # Ok(()) }
//! ```

use std::time::Duration;

use rdkafka::bindings as rd;

use crate::Error;
use crate::settings::{SaslMechanism, Secret};
use crate::sys::AdminClient;

/// How many times SCRAM hashes the password (Kafka takes 4096 to 16384).
pub const ITERATIONS: i32 = 8192;

/// Sets `user`'s `mechanism` (SCRAM-SHA-256 or SCRAM-SHA-512) credential to `password`
/// (adding it if the user has none), waiting up to `timeout` for the broker. New logins
/// of the user need the new password; connections made before stay until they log in again.
pub fn set_password(
    admin: &AdminClient,
    user: &str,
    mechanism: SaslMechanism,
    password: &Secret,
    timeout: Duration,
) -> Result<(), Error> {
    let what = format!(
        "setting the {} password of `User:{user}`",
        mechanism.as_str()
    );
    let scram = match mechanism {
        SaslMechanism::ScramSha256 => {
            rd::rd_kafka_ScramMechanism_t::RD_KAFKA_SCRAM_MECHANISM_SHA_256
        }
        SaslMechanism::ScramSha512 => {
            rd::rd_kafka_ScramMechanism_t::RD_KAFKA_SCRAM_MECHANISM_SHA_512
        }
        SaslMechanism::Plain => {
            return Err(Error::Admin {
                what,
                message: "PLAIN users are the broker's JAAS configuration, not SCRAM credentials; \
                          expected SCRAM-SHA-256 or SCRAM-SHA-512"
                    .into(),
            });
        }
    };
    crate::sys::upsert_scram_credential(
        admin,
        user,
        scram,
        ITERATIONS,
        password.expose().as_bytes(),
        timeout,
        what,
    )
}
