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

#![allow(unsafe_code)]

use std::time::Duration;

use rdkafka::bindings as rd;

use crate::Error;
use crate::settings::{SaslMechanism, Secret};
use crate::sys::{Admin, Request, c_string, error_text, text};

/// How many times SCRAM hashes the password (Kafka takes 4096 to 16384).
pub const ITERATIONS: i32 = 8192;

/// The user's alteration, destroyed once.
struct Alteration(*mut rd::rd_kafka_UserScramCredentialAlteration_t);

impl Drop for Alteration {
    fn drop(&mut self) {
        // SAFETY: made by rd_kafka_UserScramCredentialUpsertion_new, destroyed once, here.
        unsafe { rd::rd_kafka_UserScramCredentialAlteration_destroy(self.0) };
    }
}

/// Sets `user`'s `mechanism` (SCRAM-SHA-256 or SCRAM-SHA-512) credential to `password`
/// (adding it if the user has none), waiting up to `timeout` for the broker. New logins
/// of the user need the new password; connections made before stay until they log in again.
pub fn set_password(
    admin: &Admin,
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
    let name = c_string("user", user)?;
    let secret = password.expose().as_bytes();
    // SAFETY: the name and password outlive the call, which copies them; a null salt makes
    // librdkafka draw a random one.
    let alteration = Alteration(unsafe {
        rd::rd_kafka_UserScramCredentialUpsertion_new(
            name.as_ptr(),
            scram,
            ITERATIONS,
            secret.as_ptr(),
            secret.len(),
            std::ptr::null(),
            0,
        )
    });
    if alteration.0.is_null() {
        return Err(Error::Admin {
            what,
            message: "librdkafka refused the credential".into(),
        });
    }
    let request = Request::new(
        admin,
        rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_ALTERUSERSCRAMCREDENTIALS,
        timeout,
        what,
    )?;
    let mut alterations = [alteration.0];
    // SAFETY: the alteration, the options and the queue are live; librdkafka copies the
    // alterations before it returns.
    unsafe {
        rd::rd_kafka_AlterUserScramCredentials(
            request.rk(),
            alterations.as_mut_ptr(),
            alterations.len(),
            request.options(),
            request.queue(),
        );
    }
    let event = request.wait()?;
    // SAFETY: the event is live, and so is everything read from it below.
    unsafe {
        let result = rd::rd_kafka_event_AlterUserScramCredentials_result(event.ptr());
        if result.is_null() {
            return Err(Error::Admin {
                what: request.what().to_string(),
                message: "the broker's answer was not an AlterUserScramCredentials result".into(),
            });
        }
        let mut count = 0usize;
        let responses = rd::rd_kafka_AlterUserScramCredentials_result_responses(result, &mut count);
        for index in 0..count {
            let response = *responses.add(index);
            let error = rd::rd_kafka_AlterUserScramCredentials_result_response_error(response);
            // Every response has an error object; its code says whether it is one.
            let failed = !error.is_null()
                && rd::rd_kafka_error_code(error)
                    != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR;
            if failed && let Some(why) = error_text(error) {
                let whose = text(
                    rd::rd_kafka_AlterUserScramCredentials_result_response_user(response),
                    user,
                );
                return Err(Error::Admin {
                    what: format!("{} (`{whose}`)", request.what()),
                    message: why,
                });
            }
        }
    }
    Ok(())
}
