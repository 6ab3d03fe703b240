//! The cluster refusing a user, told promptly: librdkafka retries a failed login for ever
//! (records would wait out `message.timeout.ms`, a consumer would wait for nothing), so a
//! client that sees one stops and says why.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

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

/// How long a refused login may last, with no success in between, before it is final when
/// not every bootstrap broker refused it.
pub(crate) const LOGIN_GRACE: Duration = Duration::from_secs(10);

/// How often a client with a refused login asks the cluster whether it answers now.
const RECHECK: Duration = Duration::from_secs(1);

/// Where a client's callbacks report a refusal, and its users wait for one.
///
/// A refused ACL is final at once. A refused login is final only when it is consistent:
/// for a client the cluster never served, when every bootstrap broker refused it (a wrong
/// password fails within a second); else when it lasted [`LOGIN_GRACE`] with no success in
/// between (a delivery, a record received, an answer to a metadata request, which a thread
/// asks for every second meanwhile). So a broker that refuses a login while it restarts (it
/// may not know the credentials yet), or while an operator rotates the password, does not
/// end a client. A final refusal is lifted when the cluster answers again (the password was
/// fixed, or rotated: see [`crate::settings`]).
pub(crate) struct Refusal {
    /// The user and what the cluster refused.
    sender: watch::Sender<Option<(String, String)>>,
    /// Set while there is a final refusal: the check on every record sent or received is one
    /// atomic load, not the channel's lock.
    refused: AtomicBool,
    /// Set while a refused login is not final yet.
    pending: AtomicBool,
    /// Set once the cluster served the client: a refusal after that may be passing.
    served: AtomicBool,
    logins: Mutex<Logins>,
    /// The bootstrap brokers, as `host:port`.
    bootstrap: Vec<String>,
    /// Called when a refusal becomes final (the producer fails what is queued).
    on_final: OnceLock<Box<dyn Fn() + Send + Sync>>,
    /// Starts the thread that asks the cluster while a login is refused.
    recheck: OnceLock<Box<dyn Fn() + Send + Sync>>,
    /// Such a thread runs.
    rechecking: AtomicBool,
}

impl std::fmt::Debug for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Refusal")
            .field("refused", &self.refused)
            .field("pending", &self.pending)
            .finish_non_exhaustive()
    }
}

/// Logins refused since the last success.
#[derive(Default)]
struct Logins {
    since: Option<Instant>,
    /// The brokers (`host:port`) that refused.
    brokers: BTreeSet<String>,
    /// The refusal to report if it becomes final.
    refusal: Option<(String, String)>,
}

/// A client that can ask its cluster whether it answers (a metadata request), for
/// [`Refusal`]'s recheck.
pub(crate) trait Answers: Send + Sync + 'static {
    /// The client's refusal.
    fn refusal(&self) -> &Refusal;
    /// Whether the cluster answered a metadata request within `timeout`.
    fn answers(&self, timeout: Duration) -> bool;
}

impl Refusal {
    /// A refusal for a client of the brokers in `bootstrap` (`host:port,...`).
    pub(crate) fn new(bootstrap: &str) -> Self {
        Refusal {
            sender: watch::Sender::new(None),
            refused: AtomicBool::new(false),
            pending: AtomicBool::new(false),
            served: AtomicBool::new(false),
            logins: Mutex::new(Logins::default()),
            bootstrap: bootstrap
                .split(',')
                .map(|s| s.trim().to_ascii_lowercase())
                .filter(|s| !s.is_empty())
                .collect(),
            on_final: OnceLock::new(),
            recheck: OnceLock::new(),
            rechecking: AtomicBool::new(false),
        }
    }

    /// Calls `hook` whenever a refusal becomes final.
    pub(crate) fn on_final(&self, hook: Box<dyn Fn() + Send + Sync>) {
        let _ = self.on_final.set(hook);
    }

    /// Lets a thread ask `client`'s cluster every second while a login is refused.
    pub(crate) fn recheck_with<C: Answers>(&self, client: Weak<C>) {
        let _ = self.recheck.set(Box::new(move || {
            let client = client.clone();
            let spawned = std::thread::Builder::new()
                .name("kafka-utils login check".into())
                .spawn(move || recheck(&client));
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "no thread to check a refused login on");
            }
        }));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Logins> {
        self.logins
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records a final refusal (an [`Error::Refused`]; anything else is ignored); true if
    /// this was it.
    pub(crate) fn set(&self, error: &Error) -> bool {
        let Error::Refused { user, message } = error else {
            return false;
        };
        self.finalize((user.clone(), message.clone()))
    }

    fn finalize(&self, refusal: (String, String)) -> bool {
        let first = self.sender.send_if_modified(|current| {
            if current.is_some() {
                return false;
            }
            *current = Some(refusal);
            true
        });
        self.refused.store(true, Ordering::Release);
        self.pending.store(false, Ordering::Release);
        if first && let Some(hook) = self.on_final.get() {
            hook();
        }
        first
    }

    /// librdkafka reported a refused login (`error`, an [`Error::Refused`]) by the broker
    /// `reason` names: final when every bootstrap broker refused since the last success, or
    /// after [`LOGIN_GRACE`]. The refusal, if it became final now.
    pub(crate) fn login_refused(&self, error: &Error, reason: &str) -> Option<Error> {
        let Error::Refused { user, message } = error else {
            return None;
        };
        let broker = broker_of(reason);
        let final_now = {
            let mut logins = self.lock();
            let since = *logins.since.get_or_insert_with(Instant::now);
            if let Some(broker) = broker {
                logins.brokers.insert(broker);
            }
            logins.refusal = Some((user.clone(), message.clone()));
            let everyone = !self.served.load(Ordering::Acquire)
                && !self.bootstrap.is_empty()
                && self.bootstrap.iter().all(|b| logins.brokers.contains(b));
            everyone || since.elapsed() >= LOGIN_GRACE
        };
        if final_now {
            return self
                .finalize((user.clone(), message.clone()))
                .then(|| error_of(user, message));
        }
        if !self.pending.swap(true, Ordering::AcqRel) {
            tracing::warn!(%error, grace = ?LOGIN_GRACE, "a broker refused the login; it is final if every broker refuses it, or it lasts that long");
        }
        if !self.rechecking.swap(true, Ordering::AcqRel) {
            match self.recheck.get() {
                Some(start) => start(),
                None => self.rechecking.store(false, Ordering::Release),
            }
        }
        None
    }

    /// The cluster served the client (a delivery, a record, an answer): a refused login is
    /// over, and a final refusal of a login lifted.
    pub(crate) fn succeeded(&self) {
        if !self.pending.load(Ordering::Acquire) && !self.refused.load(Ordering::Acquire) {
            if !self.served.load(Ordering::Relaxed) {
                self.served.store(true, Ordering::Release);
            }
            return;
        }
        self.served.store(true, Ordering::Release);
        let was_login = {
            let mut logins = self.lock();
            let was = logins.refusal.is_some();
            *logins = Logins::default();
            was
        };
        self.pending.store(false, Ordering::Release);
        if was_login && self.refused.swap(false, Ordering::AcqRel) {
            self.sender.send_replace(None);
            tracing::info!("the cluster serves the client again; the refused login is over");
        }
    }

    /// A refused login that lasted [`LOGIN_GRACE`] becomes final; true while one is pending.
    fn tick(&self) -> bool {
        if !self.pending.load(Ordering::Acquire) {
            return false;
        }
        let expired = {
            let logins = self.lock();
            match (logins.since, &logins.refusal) {
                (Some(since), Some(refusal)) if since.elapsed() >= LOGIN_GRACE => {
                    Some(refusal.clone())
                }
                _ => None,
            }
        };
        match expired {
            Some(refusal) => {
                if self.finalize(refusal.clone()) {
                    tracing::error!(refusal = %error_of(&refusal.0, &refusal.1), "the login stayed refused");
                }
                false
            }
            None => true,
        }
    }

    /// The final refusal, if there is one.
    pub(crate) fn get(&self) -> Option<Error> {
        if !self.refused.load(Ordering::Acquire) {
            return None;
        }
        self.sender.borrow().as_ref().map(as_error)
    }

    /// Completes with the refusal once there is a final one.
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

/// While `client`'s login is refused (or its final refusal stands), asks its cluster every
/// second; an answer ends it.
fn recheck<C: Answers>(client: &Weak<C>) {
    loop {
        std::thread::sleep(RECHECK);
        let Some(client) = client.upgrade() else {
            return;
        };
        let refusal = client.refusal();
        let pending = refusal.tick();
        if !pending && !refusal.refused.load(Ordering::Acquire) {
            refusal.rechecking.store(false, Ordering::Release);
            return;
        }
        if client.answers(RECHECK) {
            refusal.succeeded();
            refusal.rechecking.store(false, Ordering::Release);
            return;
        }
    }
}

/// The broker (`host:port`, lower case) librdkafka's error text `reason` starts with:
/// `sasl_plaintext://127.0.0.1:9093/bootstrap: SASL authentication error: ...`.
fn broker_of(reason: &str) -> Option<String> {
    let (_, rest) = reason.split_once("://")?;
    let end = rest.find('/')?;
    Some(rest[..end].to_ascii_lowercase())
}

fn error_of(user: &str, message: &str) -> Error {
    Error::Refused {
        user: user.to_string(),
        message: message.to_string(),
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

    #[test]
    fn a_refused_login_is_final_once_every_bootstrap_broker_refused_it() {
        let refusal = Refusal::new("a:9093, B:9093");
        let error = Error::Refused {
            user: "shop".into(),
            message: "could not log in".into(),
        };
        let from =
            |broker: &str| format!("sasl_ssl://{broker}/bootstrap: SASL authentication error");
        assert!(refusal.login_refused(&error, &from("a:9093")).is_none());
        assert!(refusal.get().is_none(), "one broker of two refused");
        assert!(refusal.login_refused(&error, &from("b:9093")).is_some());
        assert!(refusal.get().is_some());
        // The cluster answers again: lifted.
        refusal.succeeded();
        assert!(refusal.get().is_none());
        // Once served, refusals by every broker are not final before the grace.
        assert!(refusal.login_refused(&error, &from("a:9093")).is_none());
        assert!(refusal.login_refused(&error, &from("b:9093")).is_none());
        assert!(refusal.get().is_none());
        assert_eq!(
            broker_of("sasl_plaintext://127.0.0.1:29093/1: x"),
            Some("127.0.0.1:29093".into())
        );
    }

    #[tokio::test]
    async fn the_first_refusal_is_kept_and_waiters_wake() {
        let refusal = Refusal::new("a:1");
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
