//! The process's log as operators read it: every `tracing` event of the service, of
//! kafka-utils and of librdkafka (target `librdkafka`), as text or JSON lines, to standard
//! output or to files rotated daily (the Python library's advice: logging with rotation).
//!
//! | variable | default | accepted |
//! | --- | --- | --- |
//! | `SERVICE_LOG_FORMAT` | `text` | `text`, `json` (one JSON object per line) |
//! | `SERVICE_LOG_DIR` | none: standard output | a directory; files `<SERVICE_NAME>.<date>.log` in it |
//! | `SERVICE_LOG_ROTATION` | `daily` | `daily`, `hourly`, `minutely`, `never` |
//! | `SERVICE_LOG_LEVEL` | `RUST_LOG`, else `info` | a filter: `info`, `warn,kafka_utils=debug`, ... |
//!
//! Lines are written by a thread of their own (a slow disk does not slow the service); keep
//! the [`LogGuard`] until the end of `main`, so that what is still queued is written.
//! Nothing kafka-utils logs holds a secret (see [`crate::settings`]).
//!
//! ```no_run
//! # fn main() -> Result<(), kafka_utils::Error> {
//! let _log = kafka_utils::logging::init()?;
//! tracing::info!(orders = 3, "the service started");
//! # Ok(()) }
//! ```

use std::path::PathBuf;

use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::EnvFilter;

use crate::Error;

/// How lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable text.
    Text,
    /// One JSON object per line (`timestamp`, `level`, `target`, `message` and the event's
    /// fields).
    Json,
}

/// How often a log file is rotated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogRotation {
    /// A new file every day.
    Daily,
    /// A new file every hour.
    Hourly,
    /// A new file every minute.
    Minutely,
    /// One file.
    Never,
}

/// Where and how the process logs. See the [module docs](self).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogConfig {
    /// `SERVICE_LOG_FORMAT`
    pub format: LogFormat,
    /// `SERVICE_LOG_DIR`: `None` logs to standard output.
    pub dir: Option<PathBuf>,
    /// `SERVICE_LOG_ROTATION`
    pub rotation: LogRotation,
    /// `SERVICE_LOG_LEVEL` (or `RUST_LOG`), in `tracing-subscriber`'s filter syntax.
    pub level: String,
    /// The log files' name: `SERVICE_NAME`, or `service`.
    pub name: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Text,
            dir: None,
            rotation: LogRotation::Daily,
            level: "info".to_string(),
            name: "service".to_string(),
        }
    }
}

fn invalid(variable: &'static str, value: &str, expected: &str) -> Error {
    Error::Settings {
        variable,
        message: format!("=`{value}` is not accepted: {expected}"),
    }
}

impl LogConfig {
    /// Reads the process environment (see the [module docs](self)).
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads every variable through `lookup` (a variable it does not know is unset).
    ///
    /// ```
    /// use kafka_utils::logging::{LogConfig, LogFormat};
    ///
    /// let config = LogConfig::from_lookup(|name| (name == "SERVICE_LOG_FORMAT").then(|| "json".into()))?;
    /// assert_eq!(config.format, LogFormat::Json);
    /// let err = LogConfig::from_lookup(|name| (name == "SERVICE_LOG_FORMAT").then(|| "xml".into()));
    /// assert_eq!(
    ///     err.unwrap_err().to_string(),
    ///     "SERVICE_LOG_FORMAT=`xml` is not accepted: expected `text` or `json`"
    /// );
    /// # Ok::<(), kafka_utils::Error>(())
    /// ```
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let mut config = LogConfig::default();
        if let Some(format) = get("SERVICE_LOG_FORMAT") {
            config.format = match format.to_ascii_lowercase().as_str() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                _ => {
                    return Err(invalid(
                        "SERVICE_LOG_FORMAT",
                        &format,
                        "expected `text` or `json`",
                    ));
                }
            };
        }
        config.dir = get("SERVICE_LOG_DIR").map(PathBuf::from);
        if let Some(rotation) = get("SERVICE_LOG_ROTATION") {
            config.rotation = match rotation.to_ascii_lowercase().as_str() {
                "daily" => LogRotation::Daily,
                "hourly" => LogRotation::Hourly,
                "minutely" => LogRotation::Minutely,
                "never" => LogRotation::Never,
                _ => {
                    return Err(invalid(
                        "SERVICE_LOG_ROTATION",
                        &rotation,
                        "expected `daily`, `hourly`, `minutely` or `never`",
                    ));
                }
            };
        }
        if let Some(level) = get("SERVICE_LOG_LEVEL").or_else(|| get("RUST_LOG")) {
            if let Err(e) = EnvFilter::try_new(&level) {
                return Err(invalid(
                    "SERVICE_LOG_LEVEL",
                    &level,
                    &format!(
                        "expected a level (`info`) or a filter (`warn,kafka_utils=debug`): {e}"
                    ),
                ));
            }
            config.level = level;
        }
        if let Some(name) = get("SERVICE_NAME") {
            config.name = name;
        }
        Ok(config)
    }
}

/// Keeps the log's writer thread; dropping it writes what is still queued.
#[must_use = "dropping the guard stops the log's writer"]
pub struct LogGuard {
    _writer: tracing_appender::non_blocking::WorkerGuard,
}

impl std::fmt::Debug for LogGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogGuard").finish_non_exhaustive()
    }
}

/// Sets up the process's log from the environment ([`LogConfig::from_env`]).
pub fn init() -> Result<LogGuard, Error> {
    init_with(&LogConfig::from_env()?)
}

/// Sets up the process's log as `config` says; an error if a log was set up already.
pub fn init_with(config: &LogConfig) -> Result<LogGuard, Error> {
    let filter = EnvFilter::try_new(&config.level)
        .map_err(|e| invalid("SERVICE_LOG_LEVEL", &config.level, &e.to_string()))?;
    let (writer, guard) = match &config.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| {
                invalid(
                    "SERVICE_LOG_DIR",
                    &dir.display().to_string(),
                    &format!("expected a directory the service can write: {e}"),
                )
            })?;
            let rotation = match config.rotation {
                LogRotation::Daily => Rotation::DAILY,
                LogRotation::Hourly => Rotation::HOURLY,
                LogRotation::Minutely => Rotation::MINUTELY,
                LogRotation::Never => Rotation::NEVER,
            };
            let files = RollingFileAppender::builder()
                .rotation(rotation)
                .filename_prefix(&config.name)
                .filename_suffix("log")
                .build(dir)
                .map_err(|e| {
                    invalid(
                        "SERVICE_LOG_DIR",
                        &dir.display().to_string(),
                        &format!("expected a directory the service can write: {e}"),
                    )
                })?;
            tracing_appender::non_blocking(files)
        }
        None => tracing_appender::non_blocking(std::io::stdout()),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false);
    let installed = match config.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    installed.map_err(|e| Error::Runtime(format!("setting up the log: {e}")))?;
    Ok(LogGuard { _writer: guard })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<LogConfig, Error> {
        LogConfig::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn every_variable_is_read_and_bad_values_are_named() {
        let c = config(&[
            ("SERVICE_LOG_FORMAT", "JSON"),
            ("SERVICE_LOG_DIR", "/var/log/shop"),
            ("SERVICE_LOG_ROTATION", "hourly"),
            ("RUST_LOG", "warn,kafka_utils=debug"),
            ("SERVICE_NAME", "shop"),
        ])
        .unwrap();
        assert_eq!(c.format, LogFormat::Json);
        assert_eq!(
            c.dir.as_deref(),
            Some(std::path::Path::new("/var/log/shop"))
        );
        assert_eq!(c.rotation, LogRotation::Hourly);
        assert_eq!(c.level, "warn,kafka_utils=debug");
        assert_eq!(c.name, "shop");
        assert_eq!(config(&[]).unwrap(), LogConfig::default());
        let rotation = config(&[("SERVICE_LOG_ROTATION", "weekly")]).unwrap_err();
        assert!(
            rotation
                .to_string()
                .starts_with("SERVICE_LOG_ROTATION=`weekly` is not accepted")
        );
        let level = config(&[("SERVICE_LOG_LEVEL", "info,[")]).unwrap_err();
        assert!(
            level
                .to_string()
                .starts_with("SERVICE_LOG_LEVEL=`info,[` is not accepted"),
            "{level}"
        );
    }
}
