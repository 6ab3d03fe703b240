//! AlterUserScramCredentials (KIP-554), which rust-rdkafka does not wrap.

use std::time::Duration;

use rdkafka::bindings as rd;

use super::{AdminClient, NativePtr, Request, answers, c_string, error_text, text};
use crate::Error;

/// Upserts `user`'s `mechanism` credential with `password`, hashed `iterations` times,
/// waiting up to `timeout` for the broker; `what` names the request in errors.
pub(crate) fn upsert_scram_credential(
    admin: &AdminClient,
    user: &str,
    mechanism: rd::rd_kafka_ScramMechanism_t,
    iterations: i32,
    password: &[u8],
    timeout: Duration,
    what: String,
) -> Result<(), Error> {
    let name = c_string("user", user)?;
    // SAFETY: the name and password outlive the call, which copies them; a null salt makes
    // librdkafka draw a random one.
    let alteration = unsafe {
        NativePtr::from_ptr(rd::rd_kafka_UserScramCredentialUpsertion_new(
            name.as_ptr(),
            mechanism,
            iterations,
            password.as_ptr(),
            password.len(),
            std::ptr::null(),
            0,
        ))
    };
    let Some(alteration) = alteration else {
        return Err(Error::Admin {
            what,
            message: "librdkafka refused the credential".into(),
        });
    };
    let request = Request::new(
        admin,
        rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_ALTERUSERSCRAMCREDENTIALS,
        timeout,
        what,
    )?;
    let mut alterations = [alteration.ptr()];
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
            return Err(request.unexpected());
        }
        let mut count = 0usize;
        let responses = answers(
            rd::rd_kafka_AlterUserScramCredentials_result_responses(result, &mut count),
            count,
        );
        for &response in responses {
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
