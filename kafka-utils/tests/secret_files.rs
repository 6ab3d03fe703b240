//! Secrets as operators keep them: every variable may come from the file `<NAME>_FILE`
//! names (as container platforms mount secrets); both at once, or a file that cannot be
//! read, is an error naming the variable and the path, never the content.

use std::collections::HashMap;
use std::path::PathBuf;

use kafka_utils::Error;
use kafka_utils::settings::{SecurityProtocol, Settings};

fn load(vars: &[(&str, &str)]) -> Result<Settings, Error> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Settings::from_lookup(|name| vars.get(name).cloned())
}

/// A file holding `content`, in a directory of this test's own.
fn file(name: &str, content: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ku-secret-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

#[test]
fn the_password_comes_from_its_file_without_the_line_break() {
    let path = file("password", "s3cr3t-from-file\n");
    let s = load(&[
        ("KAFKA_SECURITY_PROTOCOL", "SASL_SSL"),
        ("KAFKA_USERNAME", "shop"),
        ("KAFKA_PASSWORD_FILE", path.to_str().unwrap()),
    ])
    .unwrap();
    let password = s.password.as_ref().unwrap();
    assert_eq!(password.expose(), "s3cr3t-from-file");
    assert_eq!(password.file(), Some(path.as_path()));
    let debug = format!("{s:?}");
    assert!(!debug.contains("s3cr3t"), "{debug}");
    assert!(debug.contains("password"), "{debug}");
}

#[test]
fn every_variable_may_come_from_a_file() {
    let servers = file("servers", "a:9092,b:9092\n");
    let user = file("user", "shop\r\n");
    let records = file("records", "42");
    let protocol = file("protocol", "SASL_PLAINTEXT");
    let passphrase = file("key-passphrase", "pass-phrase");
    let s = load(&[
        ("KAFKA_BOOTSTRAP_SERVERS_FILE", servers.to_str().unwrap()),
        ("KAFKA_SECURITY_PROTOCOL_FILE", protocol.to_str().unwrap()),
        ("KAFKA_USERNAME_FILE", user.to_str().unwrap()),
        ("KAFKA_PASSWORD", "p"),
        ("KAFKA_MAX_POLL_RECORDS_FILE", records.to_str().unwrap()),
        ("KAFKA_SSL_KEY_PASSWORD_FILE", passphrase.to_str().unwrap()),
    ])
    .unwrap();
    assert_eq!(s.bootstrap_servers.as_deref(), Some("a:9092,b:9092"));
    assert_eq!(s.security_protocol, SecurityProtocol::SaslPlaintext);
    assert_eq!(s.username.as_deref(), Some("shop"));
    assert_eq!(s.username_file.as_deref(), Some(user.as_path()));
    assert_eq!(s.max_poll_records, 42);
    assert_eq!(
        s.ssl_key_password.as_ref().map(|p| p.expose()),
        Some("pass-phrase")
    );
    assert!(!format!("{s:?}").contains("pass-phrase"));
    // A bad value from a file is refused like one from the environment.
    let bad = file("bad-records", "many\n");
    assert_eq!(
        load(&[("KAFKA_MAX_POLL_RECORDS_FILE", bad.to_str().unwrap())])
            .unwrap_err()
            .to_string(),
        "KAFKA_MAX_POLL_RECORDS=`many` is not accepted: expected a whole number of records"
    );
}

#[test]
fn a_variable_and_its_file_together_are_refused() {
    let path = file("both", "hunter2-from-file");
    let err = load(&[
        ("KAFKA_PASSWORD", "hunter2-direct"),
        ("KAFKA_PASSWORD_FILE", path.to_str().unwrap()),
    ])
    .unwrap_err()
    .to_string();
    assert_eq!(
        err,
        "KAFKA_PASSWORD_FILE is set, and so is KAFKA_PASSWORD: set one of them"
    );
}

#[test]
fn a_file_that_cannot_be_read_names_the_variable_and_the_path() {
    let err = load(&[("KAFKA_PASSWORD_FILE", "/no/such/secret")])
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("KAFKA_PASSWORD_FILE=`/no/such/secret` cannot be read:")
            && err.contains("expected the path of a file holding KAFKA_PASSWORD's value"),
        "{err}"
    );
}
