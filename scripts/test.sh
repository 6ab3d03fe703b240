#!/usr/bin/env bash
# The whole test suite: formatting, lints, then every test (unit, doc, ui, mock cluster and
# real broker) against one Apache Kafka broker that this script starts and always stops.
#
# KAFKA_BOOTSTRAP_SERVERS set: test that cluster instead (see README.md).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n== %s\n' "$*" >&2; }
t0=$(date +%s)

step "cargo fmt --check"
cargo fmt --all -- --check

# Launch the broker first: the JVM boots while cargo compiles.
trap 'bash broker/kafka.sh stop' EXIT
trap 'exit 130' INT TERM
step "starting the test broker"
bash broker/kafka.sh start

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "building the tests"
cargo test --workspace --locked --no-run

step "waiting for the broker"
bash broker/kafka.sh wait
# The broker's state directory: broker/state, or KAFKA_TEST_STATE_DIR as kafka.sh reads it.
broker_env=${KAFKA_TEST_STATE_DIR:-broker/state}/env
if [[ -f $broker_env && ( -z ${KAFKA_BOOTSTRAP_SERVERS:-} || ${KAFKA_TEST_BROKER:-} == local ) ]]; then
  source "$broker_env"
fi

step "cargo test"
cargo test --workspace --locked

step "done in $(($(date +%s) - t0)) s"
