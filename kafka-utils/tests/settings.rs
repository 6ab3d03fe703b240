//! Every settings rule: defaults, accepted values, and the error for each bad one.

use std::collections::HashMap;
use std::io::Write;

use kafka_utils::Error;
use kafka_utils::prelude::*;
use kafka_utils::settings::{
    AutoOffsetReset, Compression, Profile, SaslMechanism, SecurityProtocol, Settings,
};

fn load(vars: &[(&str, &str)]) -> Result<Settings, Error> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Settings::from_lookup(|name| vars.get(name).cloned())
}

fn error(vars: &[(&str, &str)]) -> String {
    load(vars).expect_err("must be refused").to_string()
}

#[test]
fn defaults_are_the_python_librarys() {
    let s = load(&[]).unwrap();
    assert_eq!(s.bootstrap_servers, None);
    assert_eq!(s.security_protocol, SecurityProtocol::Plaintext);
    assert_eq!(s.sasl_mechanism, SaslMechanism::Plain);
    assert_eq!(s.auto_offset_reset, AutoOffsetReset::Earliest);
    assert_eq!(s.max_poll_interval_ms, 300_000);
    assert_eq!(s.max_poll_records, 500);
    assert!(s.enable_auto_commit);
    assert_eq!(s.retry_backoff_ms, 100);
    assert_eq!(s.compression, Compression::None);
    assert_eq!(s.batch_size, None);
    assert_eq!(s.linger_ms, None);
    assert_eq!(s.request_timeout_ms, 30_000);
    assert_eq!(s.max_in_flight_requests, 5);
}

#[test]
fn every_variable_is_read() {
    let dir = std::env::temp_dir().join(format!("ku-settings-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, "not checked here").unwrap();
    let ca_text = ca.to_string_lossy().to_string();
    let s = load(&[
        ("KAFKA_BOOTSTRAP_SERVERS", "a:9092, b:9093"),
        ("SERVICE_NAME", "shop"),
        ("KAFKA_SECURITY_PROTOCOL", "sasl_ssl"),
        ("KAFKA_SASL_MECHANISM", "SCRAM-SHA-256"),
        ("KAFKA_USERNAME", "shop"),
        ("KAFKA_PASSWORD", " p@ss "),
        ("KAFKA_SSL_CAFILE", &ca_text),
        ("KAFKA_AUTO_OFFSET_RESET", "latest"),
        ("KAFKA_MAX_POLL_INTERVAL_MS", "60000"),
        ("KAFKA_MAX_POLL_RECORDS", "100"),
        ("KAFKA_ENABLE_AUTO_COMMIT", "false"),
        ("KAFKA_RETRY_BACKOFF_MS", "250"),
        ("KAFKA_COMPRESSION_TYPE", "zstd"),
        ("KAFKA_BATCH_SIZE", "65536"),
        ("KAFKA_LINGER_MS", "20"),
        ("KAFKA_REQUEST_TIMEOUT_MS", "10000"),
        ("KAFKA_MAX_IN_FLIGHT_REQUESTS", "3"),
    ])
    .unwrap();
    assert_eq!(s.bootstrap_servers.as_deref(), Some("a:9092, b:9093"));
    assert_eq!(s.service_name.as_deref(), Some("shop"));
    assert_eq!(s.security_protocol, SecurityProtocol::SaslSsl);
    assert_eq!(s.sasl_mechanism, SaslMechanism::ScramSha256);
    assert_eq!(s.password.as_ref().map(|p| p.expose()), Some(" p@ss "));
    assert_eq!(s.ssl_cafile.as_deref(), Some(ca.as_path()));
    assert_eq!(s.auto_offset_reset, AutoOffsetReset::Latest);
    assert_eq!(s.max_poll_interval_ms, 60_000);
    assert_eq!(s.max_poll_records, 100);
    assert!(!s.enable_auto_commit);
    assert_eq!(s.retry_backoff_ms, 250);
    assert_eq!(s.compression, Compression::Zstd);
    assert_eq!(s.batch_size, Some(65536));
    assert_eq!(s.linger_ms, Some(20));
    assert_eq!(s.request_timeout_ms, 10_000);
    assert_eq!(s.max_in_flight_requests, 3);

    let consumer = s.consumer_config("shop-group").unwrap();
    assert_eq!(consumer.get("enable.auto.offset.store"), Some("false"));
    assert_eq!(consumer.get("enable.auto.commit"), Some("false"));
    assert_eq!(consumer.get("auto.offset.reset"), Some("latest"));
    assert_eq!(consumer.get("sasl.mechanism"), Some("SCRAM-SHA-256"));
    assert_eq!(consumer.get("ssl.ca.location"), Some(ca_text.as_str()));
    let producer = s.producer_config().unwrap();
    assert_eq!(producer.get("enable.idempotence"), Some("true"));
    assert_eq!(producer.get("acks"), Some("all"));
    assert_eq!(producer.get("compression.type"), Some("zstd"));
    assert_eq!(producer.get("linger.ms"), Some("20"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn unknown_protocol_names_variable_value_and_choices() {
    assert_eq!(
        error(&[("KAFKA_SECURITY_PROTOCOL", "TLS")]),
        "KAFKA_SECURITY_PROTOCOL=`TLS` is not accepted: expected one of `PLAINTEXT`, `SSL`, \
         `SASL_PLAINTEXT`, `SASL_SSL`"
    );
}

#[test]
fn unknown_mechanism_is_refused() {
    assert!(error(&[("KAFKA_SASL_MECHANISM", "GSSAPI")]).starts_with(
        "KAFKA_SASL_MECHANISM=`GSSAPI` is not accepted: expected one of `PLAIN`, `SCRAM-SHA-256`"
    ));
}

#[test]
fn non_numbers_in_numeric_variables_are_refused() {
    for variable in [
        "KAFKA_MAX_POLL_INTERVAL_MS",
        "KAFKA_RETRY_BACKOFF_MS",
        "KAFKA_REQUEST_TIMEOUT_MS",
        "KAFKA_LINGER_MS",
    ] {
        assert_eq!(
            error(&[(variable, "10s")]),
            format!("{variable}=`10s` is not accepted: expected a whole number of milliseconds")
        );
    }
    assert_eq!(
        error(&[("KAFKA_BATCH_SIZE", "-1")]),
        "KAFKA_BATCH_SIZE=`-1` is not accepted: expected a whole number of bytes"
    );
    assert_eq!(
        error(&[("KAFKA_MAX_POLL_RECORDS", "many")]),
        "KAFKA_MAX_POLL_RECORDS=`many` is not accepted: expected a whole number of records"
    );
}

#[test]
fn out_of_range_numbers_are_refused() {
    assert_eq!(
        error(&[("KAFKA_MAX_POLL_RECORDS", "0")]),
        "KAFKA_MAX_POLL_RECORDS=`0` is not accepted: expected 1 to 100000"
    );
    assert!(
        error(&[("KAFKA_MAX_IN_FLIGHT_REQUESTS", "6")])
            .starts_with("KAFKA_MAX_IN_FLIGHT_REQUESTS=`6` is not accepted: expected 1 to 5")
    );
    assert!(
        error(&[("KAFKA_MAX_POLL_INTERVAL_MS", "99999999999")])
            .starts_with("KAFKA_MAX_POLL_INTERVAL_MS=`99999999999` is not accepted")
    );
}

#[test]
fn max_poll_records_is_bounded_so_a_batch_cannot_exhaust_memory() {
    // recv_batch reserves room for this many records: u32::MAX would abort the process.
    for huge in ["4294967295", "100001"] {
        assert_eq!(
            error(&[("KAFKA_MAX_POLL_RECORDS", huge)]),
            format!("KAFKA_MAX_POLL_RECORDS=`{huge}` is not accepted: expected 1 to 100000")
        );
    }
    assert_eq!(
        load(&[("KAFKA_MAX_POLL_RECORDS", "100000")])
            .unwrap()
            .max_poll_records,
        100_000
    );
    // Set in code, it is refused where a client is made.
    let settings = Settings::new("127.0.0.1:9092").with_max_poll_records(usize::MAX);
    let err = settings.consumer_config("g").unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "KAFKA_MAX_POLL_RECORDS=`{}` is not accepted: expected 1 to 100000",
            usize::MAX
        )
    );
}

#[test]
fn bad_choices_are_refused() {
    assert!(error(&[("KAFKA_AUTO_OFFSET_RESET", "beginning")]).starts_with(
        "KAFKA_AUTO_OFFSET_RESET=`beginning` is not accepted: expected one of `earliest`, `latest`, `none`"
    ));
    assert!(
        error(&[("KAFKA_ENABLE_AUTO_COMMIT", "maybe")]).starts_with(
            "KAFKA_ENABLE_AUTO_COMMIT=`maybe` is not accepted: expected one of `true`"
        )
    );
    assert!(
        error(&[("KAFKA_COMPRESSION_TYPE", "brotli")])
            .starts_with("KAFKA_COMPRESSION_TYPE=`brotli` is not accepted: expected one of `none`")
    );
}

#[test]
fn malformed_bootstrap_servers_are_refused() {
    assert_eq!(
        error(&[("KAFKA_BOOTSTRAP_SERVERS", "localhost")]),
        "KAFKA_BOOTSTRAP_SERVERS=`localhost` is not accepted: expected `host:port`, several \
         separated by commas"
    );
    assert!(error(&[("KAFKA_BOOTSTRAP_SERVERS", "a:9092,b:port")]).contains("`a:9092,b:port`"));
}

#[test]
fn sasl_needs_username_and_password_and_never_shows_the_password() {
    assert_eq!(
        error(&[("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")]),
        "KAFKA_USERNAME is not set, and KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT logs in with SASL \
         (PLAIN): set the username"
    );
    assert!(
        error(&[
            ("KAFKA_SECURITY_PROTOCOL", "SASL_SSL"),
            ("KAFKA_USERNAME", "shop")
        ])
        .starts_with("KAFKA_PASSWORD is not set")
    );
    let s = load(&[
        ("KAFKA_SECURITY_PROTOCOL", "SASL_SSL"),
        ("KAFKA_USERNAME", "shop"),
        ("KAFKA_PASSWORD", "hunter2-secret"),
    ])
    .unwrap();
    let debug = format!("{s:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(debug.contains("Secret(***)"), "{debug}");
    // Even in an error about another variable of the same settings.
    let err = load(&[
        ("KAFKA_SECURITY_PROTOCOL", "SASL_SSL"),
        ("KAFKA_USERNAME", "shop"),
        ("KAFKA_PASSWORD", "hunter2-secret"),
        ("KAFKA_SSL_CAFILE", "/no/such/ca.pem"),
    ])
    .unwrap_err();
    assert!(!format!("{err} {err:?}").contains("hunter2"));
}

#[test]
fn tls_files_must_exist_and_come_in_pairs() {
    assert_eq!(
        error(&[("KAFKA_SSL_CAFILE", "/no/such/ca.pem")]),
        "KAFKA_SSL_CAFILE=`/no/such/ca.pem` is not accepted: expected the path of a readable \
         PEM file; there is no such file"
    );
    let file = std::env::temp_dir().join(format!("ku-cert-{}.pem", std::process::id()));
    std::fs::write(&file, "x").unwrap();
    let path = file.to_string_lossy().to_string();
    assert!(error(&[("KAFKA_SSL_CERTFILE", &path)]).starts_with("KAFKA_SSL_KEYFILE is not set"));
    assert!(error(&[("KAFKA_SSL_KEYFILE", &path)]).starts_with("KAFKA_SSL_CERTFILE is not set"));
    assert!(load(&[("KAFKA_SSL_CERTFILE", &path), ("KAFKA_SSL_KEYFILE", &path)]).is_ok());
    std::fs::remove_file(file).unwrap();
}

#[test]
fn env_file_fills_what_the_environment_leaves_unset() {
    let dir = std::env::temp_dir().join(format!("ku-dotenv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(".env");
    let mut file = std::fs::File::create(&path).unwrap();
    writeln!(
        file,
        "# comment\nexport KAFKA_MAX_POLL_RECORDS=42\nKAFKA_LINGER_MS=\"7\""
    )
    .unwrap();
    writeln!(file, "KAFKA_KU_TEST_ONLY_IN_FILE='x y' # trailing").unwrap();
    writeln!(file, "PATH=/this/must/not/win").unwrap();
    drop(file);
    let s = Settings::from_env_and_file(&path).unwrap();
    assert_eq!(s.max_poll_records, 42);
    assert_eq!(s.linger_ms, Some(7));

    std::fs::write(&path, "NOT A LINE\n").unwrap();
    let err = Settings::from_env_and_file(&path).unwrap_err().to_string();
    assert!(err.contains("line 1: expected `NAME=value`"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[derive(Debug, KafkaUsers)]
enum Users {
    #[user(name = "shop")]
    Shop,
    #[user(name = "auditor")]
    Auditor,
}

#[test]
fn service_name_must_be_a_declared_user() {
    let s = Settings::new("a:1").with_service_name("auditor");
    assert!(matches!(s.service_user::<Users>(), Ok(Users::Auditor)));
    let err = Settings::new("a:1")
        .with_service_name("cashier")
        .service_user::<Users>()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "SERVICE_NAME=`cashier` is not a declared user; the declared users are `shop`, `auditor`"
    );
    let err = Settings::new("a:1").service_user::<Users>().unwrap_err();
    assert!(
        err.to_string().starts_with("SERVICE_NAME is not set"),
        "{err}"
    );
    let _ = Users::Shop;
}

#[test]
fn a_client_needs_bootstrap_servers() {
    let err = Settings::default().client_config().unwrap_err();
    assert!(
        err.to_string()
            .starts_with("KAFKA_BOOTSTRAP_SERVERS is not set"),
        "{err}"
    );
}

// `KAFKA_PROFILE` and `KAFKA_BUFFER_MEMORY`: what each profile sets in librdkafka, what
// overrides it, and the error for each bad value.

fn with_cluster(vars: &[(&str, &str)]) -> Settings {
    let mut all = vec![("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")];
    all.extend_from_slice(vars);
    load(&all).unwrap()
}

#[test]
fn the_default_is_balanced_with_a_bounded_buffer() {
    let settings = with_cluster(&[]);
    assert_eq!(settings.profile, Profile::Balanced);
    assert_eq!(settings.buffer_memory, 32 * 1024 * 1024);
    let producer = settings.producer_config().unwrap();
    assert_eq!(producer.get("linger.ms"), Some("1"));
    assert_eq!(producer.get("socket.nagle.disable"), Some("true"));
    assert_eq!(producer.get("queue.buffering.max.kbytes"), Some("32768"));
    let consumer = settings.consumer_config("g").unwrap();
    assert_eq!(consumer.get("socket.nagle.disable"), Some("true"));
    assert_eq!(consumer.get("linger.ms"), None, "a producer property");
}

#[test]
fn each_profile_sets_its_linger_and_nagle() {
    let cases = [
        ("balanced", Some("1"), Some("true")),
        ("low_latency", Some("0"), Some("true")),
        ("LOW_LATENCY", Some("0"), Some("true")),
        ("throughput", None, None),
    ];
    for (name, linger, nagle) in cases {
        let producer = with_cluster(&[("KAFKA_PROFILE", name)])
            .producer_config()
            .unwrap();
        assert_eq!(producer.get("linger.ms"), linger, "{name}");
        assert_eq!(producer.get("socket.nagle.disable"), nagle, "{name}");
    }
    let code = Settings::new("127.0.0.1:9092");
    assert_eq!(code.clone().low_latency().profile, Profile::LowLatency);
    assert_eq!(code.clone().throughput().profile, Profile::Throughput);
    assert_eq!(
        code.with_profile(Profile::Balanced).profile,
        Profile::Balanced
    );
}

#[test]
fn linger_ms_and_client_properties_override_the_profile() {
    let settings = with_cluster(&[("KAFKA_PROFILE", "low_latency"), ("KAFKA_LINGER_MS", "20")]);
    assert_eq!(
        settings.producer_config().unwrap().get("linger.ms"),
        Some("20")
    );
    let settings = with_cluster(&[("KAFKA_PROFILE", "throughput"), ("KAFKA_LINGER_MS", "0")]);
    assert_eq!(
        settings.producer_config().unwrap().get("linger.ms"),
        Some("0")
    );
    let settings = Settings::new("127.0.0.1:9092")
        .low_latency()
        .with_client_property("socket.nagle.disable", "false")
        .with_client_property("queue.buffering.max.kbytes", "1024");
    let producer = settings.producer_config().unwrap();
    assert_eq!(producer.get("socket.nagle.disable"), Some("false"));
    assert_eq!(producer.get("queue.buffering.max.kbytes"), Some("1024"));
}

#[test]
fn buffer_memory_is_read_in_bytes_and_rounded_up_to_kib() {
    let settings = with_cluster(&[("KAFKA_BUFFER_MEMORY", "1048577")]);
    assert_eq!(settings.buffer_memory, 1_048_577);
    assert_eq!(
        settings
            .producer_config()
            .unwrap()
            .get("queue.buffering.max.kbytes"),
        Some("1025")
    );
    let code = Settings::new("127.0.0.1:9092").with_buffer_memory(4096);
    assert_eq!(
        code.producer_config()
            .unwrap()
            .get("queue.buffering.max.kbytes"),
        Some("4")
    );
}

#[test]
fn bad_profiles_and_buffer_sizes_are_refused_by_name() {
    assert_eq!(
        load(&[("KAFKA_PROFILE", "fast")]).unwrap_err().to_string(),
        "KAFKA_PROFILE=`fast` is not accepted: expected one of `balanced`, `low_latency`, `throughput`"
    );
    assert_eq!(
        load(&[("KAFKA_BUFFER_MEMORY", "32MiB")])
            .unwrap_err()
            .to_string(),
        "KAFKA_BUFFER_MEMORY=`32MiB` is not accepted: expected a whole number of bytes"
    );
    for bad in ["0", "1023", "2199023254529"] {
        assert_eq!(
            load(&[("KAFKA_BUFFER_MEMORY", bad)])
                .unwrap_err()
                .to_string(),
            format!(
                "KAFKA_BUFFER_MEMORY=`{bad}` is not accepted: expected 1024 to 2199023254528 bytes (librdkafka counts its queue in KiB)"
            )
        );
    }
    // Set in code, refused where a client is made.
    let err = Settings::new("127.0.0.1:9092")
        .with_buffer_memory(10)
        .producer_config()
        .unwrap_err();
    assert!(
        err.to_string().starts_with("KAFKA_BUFFER_MEMORY=`10`"),
        "{err}"
    );
}
