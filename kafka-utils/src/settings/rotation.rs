//! Credentials that come from files, re-read when the files change: every client made with
//! a password from `KAFKA_PASSWORD_FILE` (or a username from `KAFKA_USERNAME_FILE`) is
//! watched by one thread, which checks the files every second and hands a client changed
//! credentials for its next logins.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Weak};
use std::time::Duration;

use super::Settings;
use super::parse::read_secret_file;
use crate::refusal::Refusal;

/// How often the files are read.
const EVERY: Duration = Duration::from_secs(1);

/// A client whose SASL credentials can change.
pub(crate) trait Rotate: Send + Sync + 'static {
    /// Gives the client new credentials for its next logins; the error never holds them.
    fn set_credentials(&self, username: &str, password: &str) -> Result<(), String>;
    /// The client's refusal, which new credentials lift.
    fn refusal(&self) -> Option<&Refusal>;
}

/// One watched client.
struct Watched {
    client: Weak<dyn Rotate>,
    username: Username,
    password: PathBuf,
    /// The credentials it has (as read last).
    current: (String, String),
    /// A file could not be read last time (said once).
    failing: bool,
}

enum Username {
    Fixed(String),
    File(PathBuf),
}

static WATCHED: Mutex<Vec<Watched>> = Mutex::new(Vec::new());
/// The thread runs (changed under `WATCHED`'s lock).
static RUNNING: AtomicBool = AtomicBool::new(false);

/// Watches the credential files of `settings` for `client`, if its password or username
/// came from one.
pub(crate) fn watch(settings: &Settings, client: Weak<dyn Rotate>) {
    let Some(password) = settings.password.as_ref() else {
        return;
    };
    let username = match (&settings.username_file, &settings.username) {
        (Some(file), _) => Username::File(file.clone()),
        (None, Some(name)) => Username::Fixed(name.clone()),
        (None, None) => return,
    };
    let password_file = match (password.file(), &username) {
        (Some(file), _) => file.to_path_buf(),
        // A username from a file and a fixed password: nothing to re-read but the name.
        (None, Username::File(_)) => return,
        (None, Username::Fixed(_)) => return,
    };
    let current = (
        settings.username.clone().unwrap_or_default(),
        password.expose().to_string(),
    );
    let mut watched = lock();
    watched.push(Watched {
        client,
        username,
        password: password_file,
        current,
        failing: false,
    });
    if !RUNNING.swap(true, Ordering::AcqRel) {
        let spawned = std::thread::Builder::new()
            .name("kafka-utils credentials".into())
            .spawn(run);
        if let Err(e) = spawned {
            RUNNING.store(false, Ordering::Release);
            tracing::error!(error = %e, "no thread to watch the credential files on; they are read once");
        }
    }
}

fn lock() -> std::sync::MutexGuard<'static, Vec<Watched>> {
    WATCHED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Checks every watched client's files every second, until no client is left.
fn run() {
    loop {
        std::thread::sleep(EVERY);
        let mut watched = lock();
        watched.retain(|w| w.client.strong_count() > 0);
        if watched.is_empty() {
            RUNNING.store(false, Ordering::Release);
            return;
        }
        for client in watched.iter_mut() {
            check(client);
        }
    }
}

/// Hands `watched` its credentials if its files changed.
fn check(watched: &mut Watched) {
    let read = || -> std::io::Result<(String, String)> {
        let username = match &watched.username {
            Username::Fixed(name) => name.clone(),
            Username::File(file) => read_secret_file(file)?,
        };
        Ok((username, read_secret_file(&watched.password)?))
    };
    let credentials = match read() {
        Ok(credentials) => credentials,
        Err(e) => {
            if !watched.failing {
                tracing::warn!(file = %watched.password.display(), error = %e, "a credential file cannot be read; the client keeps its credentials");
                watched.failing = true;
            }
            return;
        }
    };
    watched.failing = false;
    if credentials == watched.current {
        return;
    }
    let Some(client) = watched.client.upgrade() else {
        return;
    };
    match client.set_credentials(&credentials.0, &credentials.1) {
        Ok(()) => {
            tracing::info!(file = %watched.password.display(), user = credentials.0, "the credentials changed; new logins use them");
            watched.current = credentials;
            if let Some(refusal) = client.refusal() {
                refusal.succeeded();
            }
        }
        Err(why) => {
            tracing::warn!(file = %watched.password.display(), %why, "the client did not take the new credentials")
        }
    }
}
