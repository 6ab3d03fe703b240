use kafka_utils::prelude::*;

#[derive(KafkaUsers)]
struct Users;

fn main() {}
