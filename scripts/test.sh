#!/usr/bin/env bash
# The whole test suite: formatting, lints, docs, then every test (unit, doc, ui, mock cluster
# and real broker) against one Apache Kafka broker that this script starts and always stops.
#
# KAFKA_BOOTSTRAP_SERVERS set: test that cluster instead (see README.md).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n== %s (%s s)\n' "$1" "$(($(date +%s) - t0))" >&2; }
t0=$(date +%s)

step "cargo fmt --check"
cargo fmt --all -- --check

# Launch the broker first: the JVM boots while cargo compiles.
real_pid=
stop_all() {
  if [[ -n $real_pid ]] && kill -0 "$real_pid" 2>/dev/null; then
    pkill -TERM -P "$real_pid" 2>/dev/null || true
    kill "$real_pid" 2>/dev/null || true
  fi
  bash broker/kafka.sh stop
}
trap stop_all EXIT
trap 'exit 130' INT TERM
step "starting the test broker"
bash broker/kafka.sh start

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
# The runtime without its optional parts (logging, OpenTelemetry) builds and is lint-clean too.
cargo clippy -p kafka-utils --no-default-features --locked -- -D warnings

step "cargo doc --no-deps (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked

step "building the tests"
cargo test --workspace --locked --no-run

step "waiting for the broker"
bash broker/kafka.sh wait
# The broker's state directory: broker/state, or KAFKA_TEST_STATE_DIR as kafka.sh reads it.
broker_env=${KAFKA_TEST_STATE_DIR:-broker/state}/env
if [[ -f $broker_env && ( -z ${KAFKA_BOOTSTRAP_SERVERS:-} || ${KAFKA_TEST_BROKER:-} == local ) ]]; then
  source "$broker_env"
fi

# Two groups side by side, each test binary in them one after another as cargo runs them:
# the real-broker tests (the kafka-utils-tests package: this broker, and the three-broker
# cluster of the fault tests) and everything else (unit, doc and ui tests, and the runtime's
# own tests on librdkafka's in-process mock cluster, which share nothing with the broker).
# Everything is built above, so neither cargo compiles while the other runs tests.
step "cargo test: the real-broker tests beside the rest"
real_log=$(mktemp "${TMPDIR:-/tmp}/kafka-utils-real-broker.XXXXXX")
cargo test -p kafka-utils-tests --locked >"$real_log" 2>&1 &
real_pid=$!
rest=0
cargo test --workspace --exclude kafka-utils-tests --locked || rest=$?
real=0
wait "$real_pid" || real=$?
printf '\n== the real-broker tests (kafka-utils-tests)\n' >&2
cat "$real_log" >&2
rm -f "$real_log"
if ((rest || real)); then
  printf '\n== FAILED: %s\n' "$( ((rest)) && printf 'the unit, doc, ui and mock-cluster tests (exit %s) ' "$rest"; ((real)) && printf 'the real-broker tests (exit %s)' "$real")" >&2
  exit 1
fi

step "done"
