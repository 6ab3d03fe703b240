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
declare -A lane_pid=()
stop_all() {
  local pid
  for pid in "${lane_pid[@]}"; do
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

step "building every test binary, linted by clippy (warnings are errors)"
# One build does both: clippy-driver is the compiler of the workspace's own crates (as
# `cargo clippy` makes it, but producing the binaries too), so no dependency is compiled
# twice, once checked for clippy and once built for the tests. Warnings are errors there;
# dependencies are never linted (cargo caps their lints). Every cargo call below keeps this
# environment, so none of them builds anything again.
sysroot=$(rustc --print sysroot)
clippy_driver=$sysroot/bin/clippy-driver
[[ -x $clippy_driver ]] || clippy_driver=$(command -v clippy-driver) \
  || { echo "test.sh: clippy-driver not found (rustup component add clippy)" >&2; exit 1; }
export RUSTC_WORKSPACE_WRAPPER=$clippy_driver
export RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }-D warnings"
# One build of every test binary (and of the examples and binaries, which `cargo test` builds
# too), with the whole workspace's features; the lanes below run these binaries themselves (a
# `cargo test -p` or `--exclude` would resolve other features and build much of the workspace
# again). --timings: target/cargo-timings/ says where the build time went.
tests_json=$(mktemp "${TMPDIR:-/tmp}/kafka-utils-tests.XXXXXX")
cargo test --workspace --locked --no-run --timings --message-format=json-render-diagnostics >"$tests_json"
# "<package dir> <test binary>" for each test binary, as cargo built them: those of the test
# harness (profile `test`) and the test targets without it (`harness = false`: their own main).
test_binaries() {
  sed -n '/"reason":"compiler-artifact"/ { /"profile":{[^}]*"test":true\|"target":{"kind":\["test"\]/ s|.*"manifest_path":"\([^"]*\)/Cargo.toml".*"executable":"\([^"]*\)".*|\1 \2|p; }' "$tests_json"
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

# Lanes side by side, as `cargo test` would run each binary (in its package's directory, with
# CARGO_MANIFEST_DIR and CARGO set):
# - real: the real-broker tests (kafka-utils-tests) but one, one after another (they share
#   the broker), and the test kit's tests on the broker;
# - faults: the fault tests, on a three-broker cluster of their own;
# - mock: the runtime's own tests (kafka-utils), on librdkafka's in-process mock cluster,
#   which shares nothing with a broker, two binaries at a time; the test kit's tests (its own
#   and the examples' handler tests) on the embedded cluster, KAFKA_BOOTSTRAP_SERVERS unset;
# - docs: the API docs (warnings are errors), the runtime without its optional features
#   (lint-clean), and the doc tests: the cargo calls, which need the build directory;
# - rest: the ui tests and the other crates' tests.
# Most of a lane's time is waiting (on brokers, rebalances, deadlines), so five lanes share
# the two cores well.

# The toolchain's libraries (a proc-macro crate's tests link libstd dynamically) and the
# build's own, as cargo puts them on the library path.
lib_path="$sysroot/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/lib:$(dirname "$(test_binaries | head -n 1 | cut -d' ' -f2)")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export lib_path
# Runs test binary $2 in package directory $1. The build's compiler settings are not passed
# on: trybuild's own cargo would lint the ui cases with clippy.
run_one() {
  local dir=$1 exe=$2
  printf '\n     Running %s (%s)\n' "${exe##*/}" "${dir#"$PWD"/}"
  if ! (cd "$dir" && env -u RUSTC_WORKSPACE_WRAPPER -u RUSTFLAGS CARGO_MANIFEST_DIR="$dir" \
    CARGO="${CARGO:-cargo}" LD_LIBRARY_PATH="$lib_path" "$exe" </dev/null); then
    printf '\n     FAILED: %s\n' "${exe##*/}"
    return 1
  fi
}
export -f run_one
# Runs the "<dir> <exe>" lines of stdin, $1 at a time (each binary's output kept whole).
run_lane() {
  local width=${1:-1} started=$SECONDS logs failed=0 dir exe n=0
  logs=$(mktemp -d "${TMPDIR:-/tmp}/kafka-utils-lane.XXXXXX")
  while read -r dir exe; do
    n=$((n + 1))
    printf '%s %s %s/%03d.log\n' "$dir" "$exe" "$logs" "$n"
  done | xargs -r -P "$width" -L 1 bash -c 'run_one "$0" "$1" >"$2" 2>&1' || failed=1
  cat "$logs"/*.log 2>/dev/null || true
  rm -rf "$logs"
  printf '\n     lane done in %s s\n' "$((SECONDS - started))"
  return "$failed"
}
in_package() { awk -v d="$PWD/$1" '$1 == d'; }
not_in_packages() { awk -v a="$PWD/$1" -v b="$PWD/$2" '$1 != a && $1 != b'; }
named() { awk -v n="$1" '{ e = $2; sub(/.*\//, "", e); sub(/-[0-9a-f]+$/, "", e) } e == n'; }
not_named() { awk -v n="$1" '{ e = $2; sub(/.*\//, "", e); sub(/-[0-9a-f]+$/, "", e) } e != n'; }
docs_lane() {
  local failed=0 started=$SECONDS
  printf '\n     cargo doc --no-deps (warnings are errors)\n'
  RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked || failed=1
  printf '\n     cargo clippy -p kafka-utils --no-default-features\n'
  cargo clippy -p kafka-utils --no-default-features --locked -- -D warnings || failed=1
  printf '\n     cargo test --doc\n'
  cargo test --workspace --locked --doc || failed=1
  printf '\n     lane done in %s s\n' "$((SECONDS - started))"
  return "$failed"
}

step "cargo test: $count test binaries and the doc tests, in five lanes"
declare -A lane_pid lane_log
lanes=(real faults mock docs rest)
for lane in "${lanes[@]}"; do
  lane_log[$lane]=$(mktemp "${TMPDIR:-/tmp}/kafka-utils-$lane.XXXXXX")
done
# The test kit's own tests, the orderings', the retry topics' and the dead-letter command line's
# (written with the kit) and the examples' handler tests run twice: on the embedded cluster (the mock lane, KAFKA_BOOTSTRAP_SERVERS unset) and
# on the test broker (the real lane).
kit_tests() { test_binaries | awk '{ e = $2; sub(/.*\//, "", e); sub(/-[0-9a-f]+$/, "", e) } e == "testkit" || e == "ordering" || e == "handlers" || e == "retrying" || e == "dlq_cli"'; }
{ test_binaries | in_package tests | not_named faults; kit_tests; } | run_lane 1 >"${lane_log[real]}" 2>&1 &
lane_pid[real]=$!
test_binaries | in_package tests | named faults | run_lane 1 >"${lane_log[faults]}" 2>&1 &
lane_pid[faults]=$!
{ test_binaries | in_package kafka-utils; test_binaries | in_package examples | named handlers; } \
  | (unset KAFKA_BOOTSTRAP_SERVERS && run_lane 2) >"${lane_log[mock]}" 2>&1 &
lane_pid[mock]=$!
docs_lane >"${lane_log[docs]}" 2>&1 &
lane_pid[docs]=$!
test_binaries | not_in_packages tests kafka-utils | not_named handlers | run_lane 1 >"${lane_log[rest]}" 2>&1 &
lane_pid[rest]=$!
failed=()
for lane in "${lanes[@]}"; do
  wait "${lane_pid[$lane]}" || failed+=("$lane")
  lane_pid[$lane]=
done
for lane in "${lanes[@]}"; do
  printf '\n== lane %s\n' "$lane" >&2
  cat "${lane_log[$lane]}" >&2
  rm -f "${lane_log[$lane]}"
done
rm -f "$tests_json"
if ((${#failed[@]})); then
  printf '\n== FAILED lanes: %s (real: the real-broker tests; faults: the three-broker cluster; mock: kafka-utils on the mock cluster; docs: cargo doc, the no-default-features lint, the doc tests; rest: ui and unit tests)\n' "${failed[*]}" >&2
  exit 1
fi

step "done"
