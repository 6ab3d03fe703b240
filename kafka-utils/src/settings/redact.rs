//! Which librdkafka properties hold secrets, and errors about a property that never show
//! its value.

use rdkafka::error::KafkaError;

use crate::Error;

/// The properties librdkafka 2.12 marks sensitive (`_RK_SENSITIVE` in `rdkafka_conf.c`).
const LIBRDKAFKA_SENSITIVE: &[&str] = &[
    "sasl.oauthbearer.assertion.private.key.file",
    "sasl.oauthbearer.assertion.private.key.passphrase",
    "sasl.oauthbearer.assertion.private.key.pem",
    "sasl.oauthbearer.client.secret",
    "sasl.oauthbearer.config",
    "sasl.password",
    "sasl.username",
    "ssl.ca.pem",
    "ssl.key.location",
    "ssl.key.password",
    "ssl.key.pem",
    "ssl.keystore.password",
    "ssl_key",
];

/// Endings that make any property name a secret's, librdkafka's or not.
const SENSITIVE_ENDINGS: &[&str] = &["password", "secret", ".pem", "key", "jaas.config"];

/// Whether the librdkafka property `name` holds a secret: one librdkafka marks sensitive,
/// or any name ending in `password`, `secret`, `.pem`, `key` or `jaas.config` (in any case).
/// Such a value is shown as `***` in [`Settings`](super::Settings)' `Debug`; no error or
/// log line of this crate shows the value of any property.
///
/// ```
/// use kafka_utils::settings::is_sensitive;
///
/// assert!(is_sensitive("sasl.password"));
/// assert!(is_sensitive("sasl.oauthbearer.config"));
/// assert!(is_sensitive("ssl.truststore.password"));
/// assert!(is_sensitive("my.api.key"));
/// assert!(!is_sensitive("session.timeout.ms"));
/// ```
pub fn is_sensitive(name: &str) -> bool {
    let name = name.trim().to_ascii_lowercase();
    LIBRDKAFKA_SENSITIVE.contains(&name.as_str())
        || SENSITIVE_ENDINGS.iter().any(|end| name.ends_with(end))
}

/// `value` as `Debug` shows it for property `name`.
pub(super) fn shown<'v>(name: &str, value: &'v str) -> &'v str {
    if is_sensitive(name) { "***" } else { value }
}

/// The error of making a client (`what`): librdkafka's, except that a refused property
/// becomes [`Error::ClientProperty`], which names the property and never its value.
pub(crate) fn client_error(what: impl Into<String>, error: KafkaError) -> Error {
    match error {
        KafkaError::ClientConfig(_, description, property, value) => Error::ClientProperty {
            message: without_value(&description, &value),
            property,
        },
        other => Error::kafka(what, other),
    }
}

/// librdkafka's `description` of a refused property with its `value` taken out (it quotes
/// the value it refuses: `Invalid value "x" for configuration property "y"`).
fn without_value(description: &str, value: &str) -> String {
    let mut text = description.replace(&format!("\"{value}\""), "\"***\"");
    // A longer value is taken out wherever it is; a short one only where quoted, so that
    // a value of `1` does not take every `1` out of the text.
    if value.len() >= 4 {
        text = text.replace(value, "***");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_value_is_taken_out_of_librdkafkas_words() {
        assert_eq!(
            without_value(
                "Invalid value \"hunter2\" for configuration property \"session.timeout.ms\"",
                "hunter2"
            ),
            "Invalid value \"***\" for configuration property \"session.timeout.ms\""
        );
        assert_eq!(
            without_value(
                "Configuration property \"x\" value 1 is outside range 1..10",
                "1"
            ),
            "Configuration property \"x\" value 1 is outside range 1..10"
        );
        assert_eq!(
            without_value("bad: s3cr3t-value!", "s3cr3t-value"),
            "bad: ***!"
        );
    }

    #[test]
    fn names_are_compared_in_any_case_and_by_their_ending() {
        for name in [
            "SASL.PASSWORD",
            " ssl.key.pem ",
            "x.JAAS.CONFIG",
            "vault.Secret",
        ] {
            assert!(is_sensitive(name), "{name}");
        }
        for name in ["bootstrap.servers", "ssl.key.location.typo", "linger.ms"] {
            assert!(!is_sensitive(name), "{name}");
        }
    }
}
