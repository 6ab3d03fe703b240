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
real_pid= mock_pid=
stop_all() {
  local pid
  for pid in $real_pid $mock_pid; do
    if kill -0 "$pid" 2>/dev/null; then
      pkill -TERM -P "$pid" 2>/dev/null || true
      kill "$pid" 2>/dev/null || true
    fi
  done
  bash broker/kafka.sh stop
}
trap stop_all EXIT
trap 'exit 130' INT TERM
step "starting the test broker"
bash broker/kafka.sh start

step "cargo clippy"
# --timings: target/cargo-timings/ says where the build time went.
cargo clippy --workspace --all-targets --locked --timings -- -D warnings
# The runtime without its optional parts (logging, OpenTelemetry) builds and is lint-clean too.
cargo clippy -p kafka-utils --no-default-features --locked -- -D warnings

step "cargo doc --no-deps (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked

step "building the tests"
# One build of every test binary, with the whole workspace's features; the lanes below run
# these binaries themselves (a `cargo test -p` or `--exclude` would resolve other features
# and build much of the workspace again).
tests_json=$(mktemp "${TMPDIR:-/tmp}/kafka-utils-tests.XXXXXX")
cargo test --workspace --locked --no-run --timings --message-format=json-render-diagnostics >"$tests_json"
# "<package dir> <test binary>" for each test binary (profile `test`), as cargo built them.
test_binaries() {
  sed -n '/"reason":"compiler-artifact"/ { /"profile":{[^}]*"test":true/ s|.*"manifest_path":"\([^"]*\)/Cargo.toml".*"executable":"\([^"]*\)".*|\1 \2|p; }' "$tests_json"
}
count=$(test_binaries | wc -l)
((count > 0)) || { echo "test.sh: cargo named no test binary" >&2; exit 1; }
# The executable of the non-test target named $1, built above with the same features.
built_executable() {
  sed -n "/\"reason\":\"compiler-artifact\"/ { /\"profile\":{[^}]*\"test\":false/ { /\"name\":\"$1\"/ s|.*\"executable\":\"\\([^\"]*\\)\".*|\\1|p; }; }" "$tests_json" | tail -n 1
}
KAFKA_TEST_READY_PROBE=$(built_executable broker-ready)
KAFKA_UTILS_SERVICE_EXAMPLE=$(built_executable service)
[[ -x $KAFKA_TEST_READY_PROBE && -x $KAFKA_UTILS_SERVICE_EXAMPLE ]] \
  || { echo "test.sh: cargo built no broker-ready or service example" >&2; exit 1; }
export KAFKA_TEST_READY_PROBE KAFKA_UTILS_SERVICE_EXAMPLE

step "waiting for the broker"
bash broker/kafka.sh wait
# The broker's state directory: broker/state, or KAFKA_TEST_STATE_DIR as kafka.sh reads it.
broker_env=${KAFKA_TEST_STATE_DIR:-broker/state}/env
if [[ -f $broker_env && ( -z ${KAFKA_BOOTSTRAP_SERVERS:-} || ${KAFKA_TEST_BROKER:-} == local ) ]]; then
  source "$broker_env"
fi

# Three lanes side by side, the binaries of each one after another, as `cargo test` runs them
# (in their package's directory, with CARGO_MANIFEST_DIR and CARGO set): the real-broker tests
# (the kafka-utils-tests package: this broker, and the three-broker cluster of the fault
# tests), the runtime's own tests (the kafka-utils package, on librdkafka's in-process mock
# cluster, which shares nothing with the broker), and everything else (doc and ui tests, the
# other crates' unit tests).

# The toolchain's libraries (a proc-macro crate's tests link libstd dynamically) and the
# build's own, as cargo puts them on the library path.
lib_path="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/lib:$(dirname "$(test_binaries | head -n 1 | cut -d' ' -f2)")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
run_lane() {
  local failed=0 dir exe started=$SECONDS
  while read -r dir exe; do
    printf '\n     Running %s (%s)\n' "${exe##*/}" "${dir#"$PWD"/}"
    if ! (cd "$dir" && CARGO_MANIFEST_DIR=$dir CARGO=${CARGO:-cargo} LD_LIBRARY_PATH=$lib_path "$exe" </dev/null); then
      printf '\n     FAILED: %s\n' "${exe##*/}"
      failed=1
    fi
  done
  printf '\n     lane done in %s s\n' "$((SECONDS - started))"
  return "$failed"
}
step "cargo test: $count test binaries and the doc tests, in three lanes"
in_package() { awk -v d="$PWD/$1" '$1 == d'; }
real_log=$(mktemp "${TMPDIR:-/tmp}/kafka-utils-real-broker.XXXXXX")
mock_log=$(mktemp "${TMPDIR:-/tmp}/kafka-utils-mock-cluster.XXXXXX")
test_binaries | in_package tests | run_lane >"$real_log" 2>&1 &
real_pid=$!
test_binaries | in_package kafka-utils | run_lane >"$mock_log" 2>&1 &
mock_pid=$!
rest=0
cargo test --workspace --locked --doc || rest=$?
test_binaries | awk -v a="$PWD/tests" -v b="$PWD/kafka-utils" '$1 != a && $1 != b' | run_lane || rest=1
mock=0
wait "$mock_pid" || mock=$?
real=0
wait "$real_pid" || real=$?
printf '\n== the runtime'"'"'s tests on the mock cluster (kafka-utils)\n' >&2
cat "$mock_log" >&2
printf '\n== the real-broker tests (kafka-utils-tests)\n' >&2
cat "$real_log" >&2
rm -f "$real_log" "$mock_log" "$tests_json"
if ((rest || mock || real)); then
  printf '\n== FAILED:%s%s%s\n' \
    "$( ((rest)) && printf ' the doc, ui and unit tests;')" \
    "$( ((mock)) && printf ' the mock-cluster tests (kafka-utils);')" \
    "$( ((real)) && printf ' the real-broker tests (kafka-utils-tests)')" >&2
  exit 1
fi

step "done"
