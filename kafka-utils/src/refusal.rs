//! The cluster refusing a user, told promptly: librdkafka retries a failed login for ever
//! (records would wait out `message.timeout.ms`, a consumer would wait for nothing), so a
//! client that sees one stops and says why.

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use tokio::sync::watch;

use crate::Error;

/// What to check when the cluster refused the login.
const LOGIN_HINT: &str = "check KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_MECHANISM, \
                          KAFKA_USERNAME and KAFKA_PASSWORD (or KAFKA_SSL_CERTFILE and \
                          KAFKA_SSL_KEYFILE)";

/// `Some(message)` when `error` means `user` cannot go on: its login was refused, or it
/// lacks an ACL for what it tried. `None` for what retrying may cure.
pub(crate) fn refused(user: &str, error: &KafkaError, reason: &str) -> Option<Error> {
    let code = error.rdkafka_error_code()?;
    let message = match code {
        RDKafkaErrorCode::Authentication | RDKafkaErrorCode::SaslAuthenticationFailed => {
            format!("could not log in to the cluster ({reason}); {LOGIN_HINT}")
        }
        RDKafkaErrorCode::TopicAuthorizationFailed => format!(
            "is not allowed to use a topic it asked for ({reason}); grant it in `permissions!` and \
             create the ACLs (`admin apply`)"
        ),
        RDKafkaErrorCode::GroupAuthorizationFailed => format!(
            "is not allowed to use its consumer group ({reason}); grant `AutoCommitOffset` in \
             `permissions!`, declare the group in `#[user(groups = [...])]`, and create the ACLs \
             (`admin apply`)"
        ),
        RDKafkaErrorCode::ClusterAuthorizationFailed => {
            format!("is not allowed to do that on the cluster ({reason})")
        }
        _ => return None,
    };
    Some(Error::Refused {
        user: user.to_string(),
        message,
    })
}

/// The login itself was refused (not one request).
pub(crate) fn is_login_failure(error: &KafkaError) -> bool {
    matches!(
        error.rdkafka_error_code(),
        Some(RDKafkaErrorCode::Authentication | RDKafkaErrorCode::SaslAuthenticationFailed)
    )
}

/// The record was purged from the producer's queue, not refused by the broker.
pub(crate) fn is_purged(error: &KafkaError) -> bool {
    matches!(
        error.rdkafka_error_code(),
        Some(RDKafkaErrorCode::PurgeQueue | RDKafkaErrorCode::PurgeInflight)
    )
}

/// Where a client's callbacks report a refusal, and its users wait for one.
#[derive(Debug)]
pub(crate) struct Refusal {
    /// The user and what the cluster refused.
    sender: watch::Sender<Option<(String, String)>>,
    /// Set once there is one: the check on every record sent or received is one atomic
    /// load, not the channel's lock.
    refused: std::sync::atomic::AtomicBool,
}

impl Refusal {
    pub(crate) fn new() -> Self {
        Refusal {
            sender: watch::Sender::new(None),
            refused: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Records the first refusal (an [`Error::Refused`]; anything else is ignored); true if
    /// this was it.
    pub(crate) fn set(&self, error: &Error) -> bool {
        let Error::Refused { user, message } = error else {
            return false;
        };
        let first = self.sender.send_if_modified(|current| {
            if current.is_some() {
                return false;
            }
            *current = Some((user.clone(), message.clone()));
            true
        });
        self.refused
            .store(true, std::sync::atomic::Ordering::Release);
        first
    }

    /// The refusal, if there was one.
    pub(crate) fn get(&self) -> Option<Error> {
        if !self.refused.load(std::sync::atomic::Ordering::Acquire) {
            return None;
        }
        self.sender.borrow().as_ref().map(as_error)
    }

    /// Completes with the refusal once there is one.
    pub(crate) fn wait(&self) -> impl Future<Output = Error> + Send + 'static {
        let mut receiver = self.sender.subscribe();
        async move {
            let refusal = match receiver.wait_for(Option::is_some).await {
                Ok(refusal) => refusal.clone(),
                // The client is gone; nothing more will come.
                Err(_) => None,
            };
            match refusal {
                Some(refusal) => as_error(&refusal),
                None => std::future::pending().await,
            }
        }
    }
}

fn as_error((user, message): &(String, String)) -> Error {
    Error::Refused {
        user: user.clone(),
        message: message.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_refusal_is_fatal() {
        let auth = KafkaError::Global(RDKafkaErrorCode::Authentication);
        let error = refused("shop", &auth, "SASL authentication failed").unwrap();
        let text = error.to_string();
        assert!(text.starts_with("user `shop` could not log in"), "{text}");
        assert!(text.contains("KAFKA_PASSWORD"), "{text}");
        let group = KafkaError::Global(RDKafkaErrorCode::GroupAuthorizationFailed);
        assert!(
            refused("shop", &group, "")
                .unwrap()
                .to_string()
                .contains("AutoCommitOffset")
        );
        let transient = KafkaError::Global(RDKafkaErrorCode::BrokerTransportFailure);
        assert!(refused("shop", &transient, "").is_none());
    }

    #[tokio::test]
    async fn the_first_refusal_is_kept_and_waiters_wake() {
        let refusal = Refusal::new();
        assert!(refusal.get().is_none());
        let waiting = refusal.wait();
        let first = Error::Refused {
            user: "shop".into(),
            message: "first".into(),
        };
        assert!(refusal.set(&first));
        let second = Error::Refused {
            user: "shop".into(),
            message: "second".into(),
        };
        assert!(!refusal.set(&second));
        assert_eq!(waiting.await.to_string(), "user `shop` first");
        assert_eq!(refusal.get().unwrap().to_string(), "user `shop` first");
    }
}
