//! The AsyncAPI document of a full topology: compared with a reviewed snapshot, and validated
//! (as JSON and as YAML) by the official parser, `@asyncapi/parser`, which the test installs
//! with npm into the target directory. The `asyncapi` and `schema` commands print them.
//!
//! After an intended change: `UPDATE_SNAPSHOTS=1 cargo test -p kafka-utils --test asyncapi`,
//! then review the diff of `tests/snapshots/asyncapi.json`.

use std::path::{Path, PathBuf};
use std::process::Command;

use kafka_utils::admin::cli::{self, Action};
use kafka_utils::asyncapi::{self, Info};
use kafka_utils::prelude::*;
use kafka_utils::settings::{SaslMechanism, Settings};
use serde::{Deserialize, Serialize};

/// An order, with a nested line type and an enum.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Order {
    /// The order's id.
    pub id: u64,
    pub lines: Vec<Line>,
    pub status: Status,
    pub note: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Line {
    pub sku: String,
    pub quantity: u32,
}

#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Status {
    Open,
    Paid,
}

/// A type with no JSON Schema: the topology still compiles, the message has no payload schema.
#[derive(Debug, Serialize, Deserialize)]
pub struct Opaque(pub Vec<u8>);

#[derive(Debug, KafkaTopics)]
pub enum Topics {
    /// Orders as the shop takes them.
    #[topic(name = "shop.orders", message = Order, key = u64, partitions = 6, replication_factor = 3,
            dead_letter = OrdersDlq,
            config(retention_ms = 604_800_000, min_insync_replicas = 2))]
    Orders,
    /// Orders that could not be taken.
    #[topic(name = "shop.orders.dlq", message = Order, partitions = 1)]
    OrdersDlq,
    /// The latest price per SKU.
    #[topic(name = "shop.prices", message = f64, key = String, config(cleanup_policy = "compact"))]
    Prices,
    #[topic(name = "shop.blobs", message = Opaque)]
    Blobs,
}

#[derive(Debug, KafkaUsers)]
pub enum Users {
    #[user(name = "shop", groups = ["shop-orders"])]
    Shop,
    /// Reads everything, commits under its own name as a prefix.
    #[user(name = "auditor")]
    Auditor,
}

permissions! {
    Users::Shop => {
        Topics::Orders => [Read, Write, AutoCommitOffset],
        Topics::OrdersDlq => [Write],
        Topics::Prices => [Write],
    },
    Users::Auditor => {
        Topics::Orders => [Read, AutoCommitOffset],
        Topics::Prices => [Read, AutoCommitOffset],
        Topics::Blobs => [Read, AutoCommitOffset],
    },
}

fn settings() -> Settings {
    Settings::new("kafka-1.example:9093,kafka-2.example:9093").with_sasl(
        SaslMechanism::ScramSha512,
        "shop",
        "not-a-real-secret",
        true,
    )
}

fn document() -> serde_json::Value {
    let mut info = Info::new("Shop", "2.1.0");
    info.description = Some("The shop's topics, who may use them, and how.".into());
    asyncapi::document(&TOPOLOGY, &settings(), &info)
}

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_document_matches_its_snapshot() {
    let text = serde_json::to_string_pretty(&document()).unwrap() + "\n";
    let snapshot = manifest_dir().join("tests/snapshots/asyncapi.json");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(snapshot.parent().unwrap()).unwrap();
        std::fs::write(&snapshot, &text).unwrap();
    }
    let expected = std::fs::read_to_string(&snapshot).unwrap_or_default();
    if expected != text {
        let new = snapshot.with_extension("json.new");
        std::fs::write(&new, &text).unwrap();
        panic!(
            "the document differs from {} (the new one is in {}); if intended, run with UPDATE_SNAPSHOTS=1",
            snapshot.display(),
            new.display()
        );
    }
}

#[test]
fn the_document_says_what_the_topology_says() {
    let doc = document();
    assert_eq!(doc["servers"]["broker1"]["protocol"], "kafka-secure");
    assert_eq!(
        doc["components"]["securitySchemes"]["scramSha512"]["type"],
        "scramSha512"
    );
    let orders = &doc["channels"]["shop.orders"]["bindings"]["kafka"];
    assert_eq!(
        (orders["partitions"].as_i64(), orders["replicas"].as_i64()),
        (Some(6), Some(3))
    );
    assert_eq!(orders["topicConfiguration"]["retention.ms"], 604_800_000);
    assert_eq!(
        doc["channels"]["shop.orders"]["x-kafka-utils-configs"]["min.insync.replicas"],
        "2"
    );
    assert_eq!(
        doc["channels"]["shop.prices"]["bindings"]["kafka"]["topicConfiguration"]["cleanup.policy"],
        serde_json::json!(["compact"])
    );
    let message = &doc["components"]["messages"]["shop.orders"];
    let payload = &message["payload"]["schema"];
    assert_eq!(
        payload["properties"]["lines"]["items"]["properties"]["sku"]["type"],
        "string"
    );
    assert_eq!(message["bindings"]["kafka"]["key"]["type"], "integer");
    assert!(
        doc["components"]["messages"]["shop.blobs"]
            .get("payload")
            .is_none()
    );
    let receive = &doc["operations"]["shop.receive.shop.orders"];
    assert_eq!(
        receive["bindings"]["kafka"]["groupId"]["enum"],
        serde_json::json!(["shop-orders"])
    );
    assert_eq!(
        doc["operations"]["auditor.receive.shop.blobs"]["bindings"]["kafka"]["groupId"]["enum"],
        serde_json::json!(["auditor*"])
    );
    assert_eq!(
        doc["operations"]["shop.send.shop.orders.dlq"]["action"],
        "send"
    );
    assert!(doc["operations"].get("auditor.send.shop.orders").is_none());
    assert_eq!(
        doc["x-kafka-utils-acls"].as_array().map(Vec::len),
        Some(TOPOLOGY.acl_bindings().len())
    );
}

/// `npm install`s the parser once into the target directory; returns the validator's dir.
fn validator() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("asyncapi-validator");
    std::fs::create_dir_all(&dir).unwrap();
    for file in ["package.json", "validate.mjs"] {
        std::fs::copy(
            manifest_dir().join("tests/asyncapi").join(file),
            dir.join(file),
        )
        .unwrap();
    }
    if !dir
        .join("node_modules/@asyncapi/parser/package.json")
        .exists()
    {
        let status = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .status()
            .expect("npm (Node.js) is needed to validate with @asyncapi/parser");
        assert!(status.success(), "npm install @asyncapi/parser failed");
    }
    dir
}

#[tokio::test]
async fn the_official_parser_accepts_the_document_as_json_and_as_yaml() {
    let dir = validator();
    let json_file = dir.join("shop.json");
    let yaml_file = dir.join("shop.yaml");
    let mut out = Vec::new();
    let command =
        cli::Command::parse(["asyncapi", "--title", "Shop", "--api-version", "2.1.0"]).unwrap();
    assert_eq!(command.action, Action::Asyncapi);
    cli::run(&TOPOLOGY, command, &settings(), &mut out)
        .await
        .unwrap();
    std::fs::write(&json_file, &out).unwrap();
    let mut yaml = Vec::new();
    let command = cli::Command::parse(["asyncapi", "--yaml", "--title", "Shop"]).unwrap();
    cli::run(&TOPOLOGY, command, &settings(), &mut yaml)
        .await
        .unwrap();
    std::fs::write(&yaml_file, &yaml).unwrap();
    // The YAML says what the JSON says.
    let from_yaml: serde_json::Value = serde_yaml_ng::from_slice(&yaml).unwrap();
    let from_json: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(from_yaml["channels"], from_json["channels"]);

    let output = Command::new("node")
        .arg(dir.join("validate.mjs"))
        .args([&json_file, &yaml_file])
        .current_dir(&dir)
        .output()
        .expect("node runs the validator");
    let report = String::from_utf8_lossy(&output.stdout);
    println!("{report}{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        output.status.success(),
        "@asyncapi/parser refused the document:\n{report}"
    );
    assert_eq!(report.matches(": 0 errors").count(), 2, "{report}");
}

#[tokio::test]
async fn the_schema_command_prints_each_topic_or_names_an_unknown_one() {
    let mut out = Vec::new();
    let command = cli::Command::parse(["schema", "shop.prices"]).unwrap();
    cli::run(&TOPOLOGY, command, &Settings::default(), &mut out)
        .await
        .unwrap();
    let schema: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(schema["message"]["type"], "number");
    assert_eq!(schema["key"]["type"], "string");
    let mut out = Vec::new();
    let command = cli::Command::parse(["schema"]).unwrap();
    cli::run(&TOPOLOGY, command, &Settings::default(), &mut out)
        .await
        .unwrap();
    let all: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(all.as_object().map(|o| o.len()), Some(4));
    assert!(all["shop.blobs"]["message"].is_null());
    let command = cli::Command::parse(["schema", "shop.order"]).unwrap();
    let error = cli::run(&TOPOLOGY, command, &Settings::default(), &mut Vec::new())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("`shop.order` is not a declared topic") && error.contains("shop.orders"),
        "{error}"
    );
}
