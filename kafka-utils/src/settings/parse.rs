//! Reading and checking settings: one function per variable kind, each error naming the
//! variable, the value and what is accepted.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::{AutoOffsetReset, Compression, Profile, SaslMechanism, SecurityProtocol, Settings};
use crate::Error;

/// A password: shown as `***` in `Debug` and `Display`, and, when it was read from a file
/// (`KAFKA_PASSWORD_FILE`, [`Secret::from_file`]), that file's path, so that the clients made
/// with it take a new password when the file changes (see [`crate::settings`]).
///
/// ```
/// use kafka_utils::settings::Secret;
///
/// let dir = std::env::temp_dir().join(format!("ku-secret-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let path = dir.join("password");
/// std::fs::write(&path, "hunter2\n")?;
/// let secret = Secret::from_file(&path)?;
/// assert_eq!(secret.expose(), "hunter2");
/// assert_eq!(secret.file(), Some(path.as_path()));
/// assert_eq!(format!("{secret:?} {secret}"), "Secret(***) ***");
/// # std::fs::remove_dir_all(dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    value: String,
    file: Option<PathBuf>,
}

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: String) -> Self {
        Secret { value, file: None }
    }

    /// The secret in the file at `path` (without its trailing line break), remembering the
    /// file so that clients take its new content when it changes.
    pub fn from_file(path: impl Into<PathBuf>) -> Result<Self, Error> {
        let path = path.into();
        let value = read_secret_file(&path).map_err(|e| Error::Settings {
            variable: "secret file",
            message: format!(" `{}` cannot be read: {e}", path.display()),
        })?;
        Ok(Secret {
            value,
            file: Some(path),
        })
    }

    /// The value, for the one place that must hand it to librdkafka.
    pub fn expose(&self) -> &str {
        &self.value
    }

    /// The file the secret was read from, if it was.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }
}

/// The content of a secret's file, without its trailing line breaks (as container platforms
/// mount secrets, and as `echo` writes them).
pub(crate) fn read_secret_file(path: &Path) -> std::io::Result<String> {
    let text = std::fs::read_to_string(path)?;
    Ok(text.trim_end_matches(['\n', '\r']).to_string())
}

/// Every variable the settings read: each may be given as `<NAME>_FILE`, the path of a file
/// holding its value, instead.
const VARIABLES: &[(&str, &str)] = &[
    ("KAFKA_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS_FILE"),
    ("SERVICE_NAME", "SERVICE_NAME_FILE"),
    ("KAFKA_SECURITY_PROTOCOL", "KAFKA_SECURITY_PROTOCOL_FILE"),
    ("KAFKA_SASL_MECHANISM", "KAFKA_SASL_MECHANISM_FILE"),
    ("KAFKA_USERNAME", "KAFKA_USERNAME_FILE"),
    ("KAFKA_PASSWORD", "KAFKA_PASSWORD_FILE"),
    ("KAFKA_SSL_CAFILE", "KAFKA_SSL_CAFILE_FILE"),
    ("KAFKA_SSL_CERTFILE", "KAFKA_SSL_CERTFILE_FILE"),
    ("KAFKA_SSL_KEYFILE", "KAFKA_SSL_KEYFILE_FILE"),
    ("KAFKA_SSL_KEY_PASSWORD", "KAFKA_SSL_KEY_PASSWORD_FILE"),
    ("KAFKA_AUTO_OFFSET_RESET", "KAFKA_AUTO_OFFSET_RESET_FILE"),
    (
        "KAFKA_MAX_POLL_INTERVAL_MS",
        "KAFKA_MAX_POLL_INTERVAL_MS_FILE",
    ),
    ("KAFKA_MAX_POLL_RECORDS", "KAFKA_MAX_POLL_RECORDS_FILE"),
    ("KAFKA_ENABLE_AUTO_COMMIT", "KAFKA_ENABLE_AUTO_COMMIT_FILE"),
    ("KAFKA_RETRY_BACKOFF_MS", "KAFKA_RETRY_BACKOFF_MS_FILE"),
    ("KAFKA_COMPRESSION_TYPE", "KAFKA_COMPRESSION_TYPE_FILE"),
    ("KAFKA_BATCH_SIZE", "KAFKA_BATCH_SIZE_FILE"),
    ("KAFKA_PROFILE", "KAFKA_PROFILE_FILE"),
    ("KAFKA_LINGER_MS", "KAFKA_LINGER_MS_FILE"),
    ("KAFKA_BUFFER_MEMORY", "KAFKA_BUFFER_MEMORY_FILE"),
    ("KAFKA_REQUEST_TIMEOUT_MS", "KAFKA_REQUEST_TIMEOUT_MS_FILE"),
    (
        "KAFKA_MAX_IN_FLIGHT_REQUESTS",
        "KAFKA_MAX_IN_FLIGHT_REQUESTS_FILE",
    ),
    (
        "KAFKA_STATISTICS_INTERVAL_MS",
        "KAFKA_STATISTICS_INTERVAL_MS_FILE",
    ),
];

/// The variables' values, each from the environment or from its `_FILE`: the value, and the
/// file it came from.
type Values = HashMap<&'static str, (String, Option<PathBuf>)>;

/// Reads every variable through `lookup`, and `<NAME>_FILE` where that is set instead.
fn values(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Values, Error> {
    let mut values = Values::new();
    for (variable, file_variable) in VARIABLES {
        let direct = lookup(variable).filter(|v| !v.is_empty());
        let file = lookup(file_variable)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty());
        match (direct, file) {
            (Some(_), Some(_)) => {
                return Err(Error::Settings {
                    variable: file_variable,
                    message: format!(" is set, and so is {variable}: set one of them"),
                });
            }
            (Some(value), None) => {
                values.insert(variable, (value, None));
            }
            (None, Some(path)) => {
                let path = PathBuf::from(path);
                let value = read_secret_file(&path).map_err(|e| Error::Settings {
                    variable: file_variable,
                    message: format!(
                        "=`{}` cannot be read: {e}; expected the path of a file holding \
                         {variable}'s value",
                        path.display()
                    ),
                })?;
                values.insert(variable, (value, Some(path)));
            }
            (None, None) => {}
        }
    }
    Ok(values)
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

pub(crate) fn backticked<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn invalid(variable: &'static str, value: &str, expected: &str) -> Error {
    Error::Settings {
        variable,
        message: format!("=`{value}` is not accepted: {expected}"),
    }
}

/// `.env`: `KEY=VALUE` lines, `#` comments, optional `export ` and quotes. A missing file
/// is empty.
pub(super) fn read_env_file(path: &Path) -> Result<HashMap<String, String>, Error> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(e) => {
            return Err(Error::Settings {
                variable: ".env",
                message: format!(" file `{}` cannot be read: {e}", path.display()),
            });
        }
    };
    let mut vars = HashMap::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            return Err(Error::Settings {
                variable: ".env",
                message: format!(
                    " file `{}` line {}: expected `NAME=value`",
                    path.display(),
                    number + 1
                ),
            });
        };
        let value = value.trim();
        let value = match (value.chars().next(), value.chars().last()) {
            (Some(q @ ('"' | '\'')), Some(end)) if value.len() >= 2 && end == q => {
                &value[1..value.len() - 1]
            }
            _ => value.split(" #").next().unwrap_or(value).trim(),
        };
        vars.insert(key.trim().to_string(), value.to_string());
    }
    Ok(vars)
}

struct Reader {
    values: Values,
}

impl Reader {
    fn get(&self, variable: &str) -> Option<String> {
        self.values
            .get(variable)
            .map(|(v, _)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    /// A secret, as it was given (a password may have surrounding spaces), with its file.
    fn secret(&self, variable: &str) -> Option<Secret> {
        self.values
            .get(variable)
            .filter(|(v, _)| !v.is_empty())
            .map(|(value, file)| Secret {
                value: value.clone(),
                file: file.clone(),
            })
    }

    fn number<T: std::str::FromStr>(
        &self,
        variable: &'static str,
        default: T,
        what: &str,
    ) -> Result<T, Error> {
        match self.get(variable) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| invalid(variable, &v, &format!("expected a whole number of {what}"))),
        }
    }

    fn optional_number(&self, variable: &'static str, what: &str) -> Result<Option<u32>, Error> {
        self.get(variable)
            .map(|v| {
                v.parse().map_err(|_| {
                    invalid(variable, &v, &format!("expected a whole number of {what}"))
                })
            })
            .transpose()
    }

    fn choice<T: Copy>(
        &self,
        variable: &'static str,
        default: T,
        choices: &[(&str, T)],
    ) -> Result<T, Error> {
        let Some(value) = self.get(variable) else {
            return Ok(default);
        };
        choices
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(&value))
            .map(|(_, choice)| *choice)
            .ok_or_else(|| {
                invalid(
                    variable,
                    &value,
                    &format!(
                        "expected one of {}",
                        backticked(choices.iter().map(|(n, _)| *n))
                    ),
                )
            })
    }

    fn path(&self, variable: &'static str) -> Option<PathBuf> {
        self.get(variable).map(PathBuf::from)
    }
}

pub(super) fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Settings, Error> {
    let r = Reader {
        values: values(lookup)?,
    };
    let defaults = Settings::default();
    let settings = Settings {
        bootstrap_servers: r.get("KAFKA_BOOTSTRAP_SERVERS"),
        service_name: r.get("SERVICE_NAME"),
        security_protocol: r.choice(
            "KAFKA_SECURITY_PROTOCOL",
            defaults.security_protocol,
            &[
                ("PLAINTEXT", SecurityProtocol::Plaintext),
                ("SSL", SecurityProtocol::Ssl),
                ("SASL_PLAINTEXT", SecurityProtocol::SaslPlaintext),
                ("SASL_SSL", SecurityProtocol::SaslSsl),
            ],
        )?,
        sasl_mechanism: r.choice(
            "KAFKA_SASL_MECHANISM",
            defaults.sasl_mechanism,
            &[
                ("PLAIN", SaslMechanism::Plain),
                ("SCRAM-SHA-256", SaslMechanism::ScramSha256),
                ("SCRAM-SHA-512", SaslMechanism::ScramSha512),
            ],
        )?,
        username: r.get("KAFKA_USERNAME"),
        username_file: r.values.get("KAFKA_USERNAME").and_then(|(_, f)| f.clone()),
        // Read raw: a password may have surrounding spaces, and is never echoed.
        password: r.secret("KAFKA_PASSWORD"),
        ssl_cafile: r.path("KAFKA_SSL_CAFILE"),
        ssl_certfile: r.path("KAFKA_SSL_CERTFILE"),
        ssl_keyfile: r.path("KAFKA_SSL_KEYFILE"),
        ssl_key_password: r.secret("KAFKA_SSL_KEY_PASSWORD"),
        auto_offset_reset: r.choice(
            "KAFKA_AUTO_OFFSET_RESET",
            defaults.auto_offset_reset,
            &[
                ("earliest", AutoOffsetReset::Earliest),
                ("latest", AutoOffsetReset::Latest),
                ("none", AutoOffsetReset::None),
            ],
        )?,
        max_poll_interval_ms: r.number(
            "KAFKA_MAX_POLL_INTERVAL_MS",
            defaults.max_poll_interval_ms,
            "milliseconds",
        )?,
        max_poll_records: r.number(
            "KAFKA_MAX_POLL_RECORDS",
            defaults.max_poll_records as u32,
            "records",
        )? as usize,
        enable_auto_commit: r.choice(
            "KAFKA_ENABLE_AUTO_COMMIT",
            defaults.enable_auto_commit,
            &[
                ("true", true),
                ("false", false),
                ("1", true),
                ("0", false),
                ("yes", true),
                ("no", false),
            ],
        )?,
        retry_backoff_ms: r.number(
            "KAFKA_RETRY_BACKOFF_MS",
            defaults.retry_backoff_ms,
            "milliseconds",
        )?,
        compression: r.choice(
            "KAFKA_COMPRESSION_TYPE",
            defaults.compression,
            &[
                ("none", Compression::None),
                ("gzip", Compression::Gzip),
                ("snappy", Compression::Snappy),
                ("lz4", Compression::Lz4),
                ("zstd", Compression::Zstd),
            ],
        )?,
        batch_size: r.optional_number("KAFKA_BATCH_SIZE", "bytes")?,
        profile: r.choice("KAFKA_PROFILE", defaults.profile, &Profile::NAMES)?,
        linger_ms: r.optional_number("KAFKA_LINGER_MS", "milliseconds")?,
        buffer_memory: r.number("KAFKA_BUFFER_MEMORY", defaults.buffer_memory, "bytes")?,
        request_timeout_ms: r.number(
            "KAFKA_REQUEST_TIMEOUT_MS",
            defaults.request_timeout_ms,
            "milliseconds",
        )?,
        max_in_flight_requests: r.number(
            "KAFKA_MAX_IN_FLIGHT_REQUESTS",
            defaults.max_in_flight_requests,
            "requests",
        )?,
        statistics_interval_ms: r.number(
            "KAFKA_STATISTICS_INTERVAL_MS",
            defaults.statistics_interval_ms,
            "milliseconds",
        )?,
        client_properties: Vec::new(),
        scope: defaults.scope,
    };
    validate(&settings)?;
    Ok(settings)
}

fn require_file(variable: &'static str, path: &Path) -> Result<(), Error> {
    if path.is_file() {
        Ok(())
    } else {
        Err(invalid(
            variable,
            &path.display().to_string(),
            "expected the path of a readable PEM file; there is no such file",
        ))
    }
}

pub(super) fn validate(s: &Settings) -> Result<(), Error> {
    if let Some(servers) = &s.bootstrap_servers {
        for server in servers.split(',').map(str::trim) {
            let port_ok = server
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            if !port_ok {
                return Err(invalid(
                    "KAFKA_BOOTSTRAP_SERVERS",
                    servers,
                    "expected `host:port`, several separated by commas",
                ));
            }
        }
    }
    let protocol = s.security_protocol.as_str();
    if s.security_protocol.uses_sasl() {
        if s.username.is_none() {
            return Err(Error::Settings {
                variable: "KAFKA_USERNAME",
                message: format!(
                    " is not set, and KAFKA_SECURITY_PROTOCOL={protocol} logs in with SASL \
                     ({}): set the username",
                    s.sasl_mechanism.as_str()
                ),
            });
        }
        if s.password.is_none() {
            return Err(Error::Settings {
                variable: "KAFKA_PASSWORD",
                message: format!(
                    " is not set, and KAFKA_SECURITY_PROTOCOL={protocol} logs in with SASL \
                     ({}): set the password",
                    s.sasl_mechanism.as_str()
                ),
            });
        }
    }
    if let Some(ca) = &s.ssl_cafile {
        require_file("KAFKA_SSL_CAFILE", ca)?;
    }
    match (&s.ssl_certfile, &s.ssl_keyfile) {
        (Some(cert), Some(key)) => {
            require_file("KAFKA_SSL_CERTFILE", cert)?;
            require_file("KAFKA_SSL_KEYFILE", key)?;
        }
        (Some(_), None) => {
            return Err(Error::Settings {
                variable: "KAFKA_SSL_KEYFILE",
                message:
                    " is not set, but KAFKA_SSL_CERTFILE is: a client certificate needs its key"
                        .into(),
            });
        }
        (None, Some(_)) => {
            return Err(Error::Settings {
                variable: "KAFKA_SSL_CERTFILE",
                message:
                    " is not set, but KAFKA_SSL_KEYFILE is: a client key needs its certificate"
                        .into(),
            });
        }
        (None, None) => {}
    }
    if !(1..=Settings::MAX_POLL_RECORDS_LIMIT).contains(&s.max_poll_records) {
        return Err(invalid(
            "KAFKA_MAX_POLL_RECORDS",
            &s.max_poll_records.to_string(),
            &format!("expected 1 to {}", Settings::MAX_POLL_RECORDS_LIMIT),
        ));
    }
    if !(1..=5).contains(&s.max_in_flight_requests) {
        return Err(invalid(
            "KAFKA_MAX_IN_FLIGHT_REQUESTS",
            &s.max_in_flight_requests.to_string(),
            "expected 1 to 5 (the idempotent producer keeps order only up to 5)",
        ));
    }
    if !(1024..=Settings::BUFFER_MEMORY_LIMIT).contains(&s.buffer_memory) {
        return Err(invalid(
            "KAFKA_BUFFER_MEMORY",
            &s.buffer_memory.to_string(),
            &format!(
                "expected 1024 to {} bytes (librdkafka counts its queue in KiB)",
                Settings::BUFFER_MEMORY_LIMIT
            ),
        ));
    }
    if s.max_poll_interval_ms < 1 {
        return Err(invalid(
            "KAFKA_MAX_POLL_INTERVAL_MS",
            "0",
            "expected at least 1",
        ));
    }
    Ok(())
}
