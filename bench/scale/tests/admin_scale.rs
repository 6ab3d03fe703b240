//! `admin-scale` on the real broker, at the topology CI builds (10 topics, 5 readers: 100
//! ACLs): the plan creates all of it, apply makes it so, the plan after it finds nothing, and
//! run twice it starts from the same empty cluster (the first run deleted what it made).

use std::process::Command;

fn run_once(bootstrap: &str) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_admin-scale"))
        .env("KAFKA_BOOTSTRAP_SERVERS", bootstrap)
        .output()
        .expect("admin-scale runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "admin-scale failed: {stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("`{last}` is not the figures: {e}"))
}

#[test]
fn plan_apply_and_replan_of_the_declared_topology() {
    let bootstrap = std::env::var("KAFKA_BOOTSTRAP_SERVERS")
        .expect("KAFKA_BOOTSTRAP_SERVERS: the real broker (scripts/test.sh starts one)");
    let topics = kafka_utils_scale::TOPOLOGY.topics().count() as u64;
    let acls = kafka_utils_scale::TOPOLOGY.acl_bindings().len() as u64;
    assert_eq!(
        (topics, acls),
        (10, 100),
        "CI's build of the scale topology"
    );
    for round in 0..2 {
        let figures = run_once(&bootstrap);
        let field = |name: &str| figures[name].as_u64().unwrap_or(u64::MAX);
        assert_eq!(field("planned_topics"), topics, "round {round}: {figures}");
        assert_eq!(field("planned_acls"), acls, "round {round}: {figures}");
        assert_eq!(field("partitions"), topics * 3, "{figures}");
        assert_eq!(
            figures["replan_changes"],
            serde_json::Value::Bool(false),
            "round {round}: the plan after apply found changes: {figures}"
        );
    }
}
