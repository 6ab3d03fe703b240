//! Writes the declaration of the scale topology: `KAFKA_UTILS_SCALE_TOPICS` topics (10 unless
//! set; `scripts/bench.sh` sets 1,000) of 3 partitions each, and `KAFKA_UTILS_SCALE_READERS`
//! users (5 unless set) that may read every one of them: 2 ACLs per user and topic (Read,
//! Describe), 10,000 for 1,000 topics and 5 users. It is what a service would write by hand:
//! a `#[derive(KafkaTopics)]` enum, a `#[derive(KafkaUsers)]` enum and one `permissions!`.

use std::fmt::Write as _;

fn count(name: &str, default: usize) -> usize {
    println!("cargo:rerun-if-env-changed={name}");
    match std::env::var(name) {
        Err(_) => default,
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}=`{v}` is not a whole number")),
    }
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let topics = count("KAFKA_UTILS_SCALE_TOPICS", 10).max(1);
    let readers = count("KAFKA_UTILS_SCALE_READERS", 5).max(1);
    let mut out = String::new();
    out.push_str("#[derive(Debug, KafkaTopics)]\npub enum Topics {\n");
    for t in 0..topics {
        let _ = writeln!(
            out,
            "    #[topic(name = \"scale.events{t}\", message = Event, key = u64, partitions = 3, config(retention = \"7d\"))]\n    T{t},"
        );
    }
    out.push_str("}\n\n#[derive(Debug, KafkaUsers)]\npub enum Users {\n");
    for r in 0..readers {
        let _ = writeln!(
            out,
            "    #[user(name = \"scale-reader{r}\")]\n    Reader{r},"
        );
    }
    out.push_str("}\n\npermissions! {\n");
    for r in 0..readers {
        let _ = writeln!(out, "    Users::Reader{r} => {{");
        for t in 0..topics {
            let _ = writeln!(out, "        Topics::T{t} => [Read],");
        }
        out.push_str("    },\n");
    }
    out.push_str("}\n");
    let dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    std::fs::write(format!("{dir}/topology.rs"), out).expect("writing the topology");
}
