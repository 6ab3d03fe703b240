#!/usr/bin/env bash
# The benchmark, side by side in one run: raw rust-rdkafka, kafka-utils (typed producer,
# consumer, handler runner), Apache Kafka's Java client, confluent-kafka-python, aiokafka and
# FastStream, against one Apache Kafka broker that this script starts (from the Maven Central
# jars) and always stops.
#
#   bash scripts/bench.sh            the full run (about 55 min); writes BENCHMARKS.md,
#                                    bench/results/results.json and bench/results/chart.png
#   BENCH_QUICK=1 bash scripts/bench.sh   one short repetition of everything (a smoke run)
#
# The Python clients are installed from PyPI into a virtualenv (target/bench-venv, or
# BENCH_VENV) at the versions of bench/python/requirements.txt; the Java client (bench/java)
# is built with Maven against the broker's kafka-clients. On a machine with two CPUs
# or more, the broker is pinned to the last CPU and the clients to the first, so that the
# JVM and the client under test do not steal each other's time slices.
# Knobs (see README.md): BENCH_REPS, BENCH_SECONDS, BENCH_LATENCY_SECONDS,
# BENCH_LATENCY_WARMUP, BENCH_RATES, BENCH_CLIENTS, BENCH_FILL_SCALE, BENCH_OUT, BENCH_REPORT.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

step() { printf '\n== %s\n' "$*" >&2; }

venv=${BENCH_VENV:-$repo/target/bench-venv}
step "Python clients into $venv"
command -v python3 >/dev/null || { echo "bench.sh: python3 is needed for the Python clients" >&2; exit 1; }
[[ -x $venv/bin/python ]] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r bench/python/requirements.txt

step "cargo build --release -p kafka-utils-bench"
# Cargo says where it put the binary (CARGO_TARGET_DIR, a build.target-dir config, ...).
bench_bin=$(cargo build --release --locked -p kafka-utils-bench --bin kafka-utils-bench --message-format=json \
  | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
[[ -n $bench_bin && -x $bench_bin ]] || { echo "bench.sh: cargo named no kafka-utils-bench binary" >&2; exit 1; }

step "the admin at scale: cargo build --release -p kafka-utils-scale (1,000 topics, 10,000 ACLs)"
# Its build script writes the declaration. Built first as CI builds it (10 topics): `-p`
# resolves its dependencies' features apart from the benchmark's, and they are not what is
# timed; then with the scale topology, the derive's cost.
cargo build --release --locked -p kafka-utils-scale --bin admin-scale
touch bench/scale/build.rs
t0=$(date +%s.%N)
scale_bin=$(KAFKA_UTILS_SCALE_TOPICS=1000 KAFKA_UTILS_SCALE_READERS=5 cargo build --release --locked \
  -p kafka-utils-scale --bin admin-scale --message-format=json \
  | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
[[ -n $scale_bin && -x $scale_bin ]] || { echo "bench.sh: cargo named no admin-scale binary" >&2; exit 1; }
export BENCH_SCALE_BIN=$scale_bin
export BENCH_SCALE_BUILD_SECONDS=$(awk -v end="$(date +%s.%N)" -v start="$t0" 'BEGIN { printf "%.1f", end - start }')

kafka_version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' broker/pom.xml)

step "Apache Kafka's Java client $kafka_version (bench/java, mvn package)"
mkdir -p target
command -v mvn >/dev/null || { echo "bench.sh: Maven (mvn) is needed to build the Java client (bench/java)" >&2; exit 1; }
if ! mvn -q -B -f bench/java/pom.xml -Dkafka.version="$kafka_version" package dependency:build-classpath \
  -Dmdep.outputFile=target/classpath.txt >target/bench-java-mvn.log 2>&1; then
  tail -n 30 target/bench-java-mvn.log >&2
  echo "bench.sh: building bench/java failed (log: target/bench-java-mvn.log)" >&2
  exit 1
fi
export BENCH_JAVA_CLASSPATH=$repo/bench/java/target/bench-java-0.jar:$(cat bench/java/target/classpath.txt)
export BENCH_JAVA_CLIENT="kafka-clients $kafka_version, $(sed -n 's:.*<jackson.version>\(.*\)</jackson.version>.*:Jackson \1:p' bench/java/pom.xml)"
export BENCH_PYTHON=$venv/bin/python
export BENCH_DATE=${BENCH_DATE:-$(date -u +%Y-%m-%d)}
export BENCH_BROKER="Apache Kafka $kafka_version (KRaft, one node, JVM heap 1 GiB, Shenandoah GC), on 127.0.0.1"
export BENCH_JAVA=$(java -version 2>&1 | head -n 1)
# The benchmark's broker keeps its data apart from the tests' broker, starts empty and leaves
# nothing behind (its runs write tens of gigabytes).
export KAFKA_TEST_STATE_DIR=${KAFKA_TEST_STATE_DIR:-$repo/target/bench-broker}
need_gib=${BENCH_DISK_GIB:-20}
mkdir -p "$(dirname "$KAFKA_TEST_STATE_DIR")"
free_gib=$(($(df -Pk "$(dirname "$KAFKA_TEST_STATE_DIR")" | awk 'NR == 2 { print $4 }') / 1048576))
if ((free_gib < need_gib)); then
  echo "bench.sh: $free_gib GiB free under $(dirname "$KAFKA_TEST_STATE_DIR"); the broker's data needs about $need_gib GiB (BENCH_DISK_GIB)" >&2
  exit 1
fi
if [[ $KAFKA_TEST_STATE_DIR == "$repo/target/bench-broker" ]]; then
  rm -rf "$KAFKA_TEST_STATE_DIR"
  trap 'rm -rf "$repo/target/bench-broker"' EXIT
fi
export KAFKA_TEST_BROKER=local
# The broker at its full speed (C2): its throughput is part of every client's. Its collector
# pauses for less than a millisecond (G1's young collections stopped it 20-25 ms each on its
# one CPU, most of every client's p99 latency; see broker/kafka.sh).
export KAFKA_TEST_BROKER_JIT=full
export KAFKA_TEST_BROKER_GC=shenandoah
unset KAFKA_BOOTSTRAP_SERVERS

pin=()
cpus=$(nproc)
if ((cpus >= 2)) && command -v taskset >/dev/null; then
  export KAFKA_TEST_BROKER_CPUS=$((cpus - 1))
  pin=(taskset -c 0)
  export BENCH_PINNING="broker on CPU $((cpus - 1)), each client on CPU 0 (taskset)"
else
  export BENCH_PINNING="none ($cpus CPU(s) or no taskset)"
fi

step "benchmark ($BENCH_PINNING)"
bash broker/kafka.sh run "${pin[@]}" "$bench_bin" run
