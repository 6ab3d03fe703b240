#!/usr/bin/env bash
# A real, single-node Apache Kafka broker (KRaft, broker+controller) for the tests,
# run with Java from the jars on Maven Central. No Docker, nothing downloaded
# outside the registries, nothing left running.
#
#   broker/kafka.sh start      fetch jars (cached in ~/.m2), make TLS material, format, launch
#   broker/kafka.sh wait       block until the broker answers metadata on every listener
#   broker/kafka.sh stop       stop the broker this script started (by its pid)
#   broker/kafka.sh restart    stop it and start it again, keeping its ports and data
#   broker/kafka.sh status     say whether it runs, and where
#   broker/kafka.sh env        print the variables that point clients at it
#   broker/kafka.sh run CMD..  start, wait, run CMD with those variables, stop (also on failure)
#
# Listeners, all on 127.0.0.1 (ports from KAFKA_TEST_PORT_BASE, default: the first
# free block of five from 29092, below Linux's ephemeral range so that no outgoing
# connection, the broker's own to its controller included, can take one before it binds):
#   base+0  PLAINTEXT       dev listener; its principal ANONYMOUS is a super user
#   base+1  SASL_PLAINTEXT  PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
#   base+2  SASL_SSL        the same mechanisms over TLS (server cert signed by a test CA)
#   base+3  SSL             mutual TLS: principal = the client certificate's CN
#   base+4  CONTROLLER      KRaft controller (PLAINTEXT, loopback only)
# Authorization: StandardAuthorizer, super users admin and ANONYMOUS; with no ACL a
# resource is denied. Users (password `<name>-secret`, for PLAIN and both SCRAMs):
# admin, alice, bob, carol, dave. Client certificates are made for alice and bob.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
state=${KAFKA_TEST_STATE_DIR:-$here/state}
users=(admin alice bob carol dave)
cert_users=(alice bob)
ready_timeout=${KAFKA_TEST_READY_TIMEOUT_SECS:-90}
# KAFKA_BOOTSTRAP_SERVERS set by the caller (not by our own env file) means: test that cluster.
external=0
[[ -n ${KAFKA_BOOTSTRAP_SERVERS:-} && ${KAFKA_TEST_BROKER:-} != local ]] && external=1

log() { printf 'kafka.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

now_ms() { date +%s%3N; }

pid_alive() { [[ -f $state/pid ]] && kill -0 "$(cat "$state/pid")" 2>/dev/null; }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Warns when ports $1..$2 lie in the kernel's ephemeral range: an outgoing connection may
# take one of them between our check and the broker's bind ("Address already in use").
warn_ephemeral() {
  local range low high
  range=$(cat /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null) || return 0
  read -r low high <<<"$range"
  if (($1 <= high && $2 >= low)); then
    log "warning: ports $1..$2 are in the ephemeral range $low..$high (net.ipv4.ip_local_port_range); a start may fail to bind"
  fi
}

pick_ports() {
  local base
  if [[ -n ${KAFKA_TEST_PORT_BASE:-} ]]; then
    [[ $KAFKA_TEST_PORT_BASE =~ ^[0-9]+$ ]] && ((KAFKA_TEST_PORT_BASE > 1023 && KAFKA_TEST_PORT_BASE < 65530)) ||
      die "KAFKA_TEST_PORT_BASE=\`$KAFKA_TEST_PORT_BASE\` is not a port number in 1024..65529"
    for p in $(seq "$KAFKA_TEST_PORT_BASE" $((KAFKA_TEST_PORT_BASE + 4))); do
      port_in_use "$p" && die "port $p (from KAFKA_TEST_PORT_BASE=$KAFKA_TEST_PORT_BASE) is already in use on 127.0.0.1"
    done
    warn_ephemeral "$KAFKA_TEST_PORT_BASE" $((KAFKA_TEST_PORT_BASE + 4))
    echo "$KAFKA_TEST_PORT_BASE"
    return
  fi
  for base in $(seq 29092 100 29992); do
    local busy=0
    for p in $(seq "$base" $((base + 4))); do port_in_use "$p" && busy=1 && break; done
    ((busy == 0)) && warn_ephemeral "$base" $((base + 4)) && echo "$base" && return
  done
  die "no free block of five ports in 29092..29996 on 127.0.0.1; set KAFKA_TEST_PORT_BASE"
}

# The broker's classpath, resolved by Maven from broker/pom.xml and cached until the pom changes.
classpath() {
  local cp=$state/classpath.txt stamp=$state/classpath.pom
  if [[ -s $cp && -f $stamp ]] && cmp -s "$here/pom.xml" "$stamp"; then
    # Still valid only if every jar is still in the local repository.
    if tr ':' '\n' <"$cp" | while read -r jar; do [[ -f $jar ]] || exit 1; done; then
      cat "$cp"
      return
    fi
  fi
  command -v mvn >/dev/null || die "Maven (mvn) is needed to fetch Apache Kafka from Maven Central; install it (apt-get install maven)"
  log "resolving Apache Kafka and its dependencies with Maven (cached in ~/.m2 after the first run)"
  if ! mvn -q -B -f "$here/pom.xml" dependency:build-classpath -Dmdep.outputFile="$cp" >"$state/mvn.log" 2>&1; then
    tail -n 30 "$state/mvn.log" >&2
    die "Maven could not resolve the broker's jars (log: $state/mvn.log)"
  fi
  cp "$here/pom.xml" "$stamp"
  cat "$cp"
}

make_tls() {
  local tls=$state/tls
  rm -rf "$tls" && mkdir -p "$tls"
  command -v openssl >/dev/null || die "openssl is needed to make the test CA"
  (
    cd "$tls"
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=kafka-utils test CA" \
      -keyout ca.key -out ca.crt 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' >broker.ext
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout broker.key -out broker.csr 2>/dev/null
    openssl x509 -req -in broker.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
      -extfile broker.ext -out broker.crt 2>/dev/null
    openssl pkcs12 -export -in broker.crt -inkey broker.key -certfile ca.crt \
      -passout pass:broker-secret -out broker.p12
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    for u in "${cert_users[@]}"; do
      openssl req -newkey rsa:2048 -nodes -subj "/CN=$u" -keyout "$u.key" -out "$u.csr" 2>/dev/null
      openssl x509 -req -in "$u.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
        -extfile client.ext -out "$u.crt" 2>/dev/null
    done
    rm -f ./*.csr ./*.ext ca.srl
  )
}

# A log4j2 configuration at $1 that writes the broker's log to the file $2, at INFO.
write_log4j() {
  cat >"$1" <<EOF
status=error
appender.file.type=File
appender.file.name=file
appender.file.fileName=$2
appender.file.layout.type=PatternLayout
appender.file.layout.pattern=[%d] %p %m (%c)%n
rootLogger.level=INFO
rootLogger.appenderRef.file.ref=file
EOF
}

write_config() {
  local base=$1 p_plain=$1 p_sasl=$(($1 + 1)) p_sasl_ssl=$(($1 + 2)) p_ssl=$(($1 + 3)) p_ctrl=$(($1 + 4))
  local plain_users="" u
  for u in "${users[@]}"; do plain_users+=" user_$u=\"$u-secret\""; done
  local plain_jaas="org.apache.kafka.common.security.plain.PlainLoginModule required username=\"admin\" password=\"admin-secret\"$plain_users;"
  local scram_jaas="org.apache.kafka.common.security.scram.ScramLoginModule required;"
  cat >"$state/server.properties" <<EOF
# Generated by broker/kafka.sh: a single-node KRaft broker for tests.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$p_ctrl
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:$p_plain,SASL_PLAINTEXT://127.0.0.1:$p_sasl,SASL_SSL://127.0.0.1:$p_sasl_ssl,SSL://127.0.0.1:$p_ssl,CONTROLLER://127.0.0.1:$p_ctrl
advertised.listeners=PLAINTEXT://127.0.0.1:$p_plain,SASL_PLAINTEXT://127.0.0.1:$p_sasl,SASL_SSL://127.0.0.1:$p_sasl_ssl,SSL://127.0.0.1:$p_ssl
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$state/data

authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin;User:ANONYMOUS
allow.everyone.if.no.acl.found=false

listener.name.sasl_plaintext.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_plaintext.plain.sasl.jaas.config=$plain_jaas
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=$scram_jaas
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=$scram_jaas
# SCRAM-SHA-512 logins on this listener must log in again every 5 s (KIP-368): how a
# rotated password reaches the connections made before it (tests/tests/secret_rotation.rs).
listener.name.sasl_plaintext.scram-sha-512.connections.max.reauth.ms=5000
listener.name.sasl_ssl.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_ssl.plain.sasl.jaas.config=$plain_jaas
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=$scram_jaas
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=$scram_jaas

ssl.keystore.type=PKCS12
ssl.keystore.location=$state/tls/broker.p12
ssl.keystore.password=broker-secret
ssl.key.password=broker-secret
ssl.truststore.type=PEM
ssl.truststore.location=$state/tls/ca.crt
listener.name.ssl.ssl.client.auth=required
ssl.principal.mapping.rules=RULE:^CN=([^,]+)\$/\$1/,DEFAULT

auto.create.topics.enable=false
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=5
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# A deleted topic's files go after 1 s, not 60: the benchmark recreates its topics between
# runs of gigabytes each. (The broker's name for the topics' file.delete.delay.ms.)
log.segment.delete.delay.ms=1000
EOF
  write_log4j "$state/log4j2.properties" "$state/server.log"
  cat >"$state/env" <<EOF
export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$p_plain
export KAFKA_TEST_SASL_PLAINTEXT_BOOTSTRAP=127.0.0.1:$p_sasl
export KAFKA_TEST_SASL_SSL_BOOTSTRAP=127.0.0.1:$p_sasl_ssl
export KAFKA_TEST_SSL_BOOTSTRAP=127.0.0.1:$p_ssl
export KAFKA_TEST_SSL_CAFILE=$state/tls/ca.crt
export KAFKA_TEST_CLIENT_CERT_DIR=$state/tls
export KAFKA_TEST_BROKER=local
EOF
  echo "$base" >"$state/port-base"
}

java_bin() {
  if [[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/java ]]; then echo "$JAVA_HOME/bin/java"; return; fi
  command -v java >/dev/null || die "Java 17+ is needed to run Apache Kafka 4; install it (apt-get install openjdk-17-jre-headless)"
  echo java
}

check_java() {
  case ${KAFKA_TEST_BROKER_JIT:-quick} in
    quick | full) ;;
    *) die "KAFKA_TEST_BROKER_JIT=\`$KAFKA_TEST_BROKER_JIT\` is not a JIT mode; use quick (for tests, the default) or full (for the benchmark)" ;;
  esac
  case ${KAFKA_TEST_BROKER_GC:-g1} in
    g1 | shenandoah) ;;
    *) die "KAFKA_TEST_BROKER_GC=\`$KAFKA_TEST_BROKER_GC\` is not a collector; use g1 (Kafka's own choice, the default) or shenandoah (for the benchmark's latency)" ;;
  esac
  local v
  v=$("$1" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)
  [[ -n $v && $v -ge 17 ]] || die "Apache Kafka 4 needs Java 17 or newer; \`$1 -version\` says: $("$1" -version 2>&1 | head -n1)"
  if [[ ${KAFKA_TEST_BROKER_GC:-g1} == shenandoah ]] && ! "$1" -XX:+UseShenandoahGC -version >/dev/null 2>&1; then
    die "KAFKA_TEST_BROKER_GC=shenandoah: \`$1\` has no Shenandoah collector (OpenJDK builds such as Debian's and Temurin have it); use another JDK (JAVA_HOME) or KAFKA_TEST_BROKER_GC=g1"
  fi
}

# The JIT, as KAFKA_TEST_BROKER_JIT chooses (check_java refuses another value): `quick` (the
# default, for tests) compiles with C1 only, which about halves the CPU a broker takes to
# start (6.7 -> 3.2-4.0 s here) and to idle, on a machine where the brokers share two cores
# with cargo; `full` is for the benchmark, where the broker's throughput and pauses count:
# the JVM as Kafka's own kafka-server-start.sh runs it (C2, a fixed 1 GiB heap and its G1
# options). The tests' heap starts at 256 MiB: while it grows, G1 pauses the broker for
# 10-20 ms every half second or so (-Xlog:safepoint), each pause a stall of every client.
jit_args() {
  if [[ ${KAFKA_TEST_BROKER_JIT:-quick} == quick ]]; then echo -XX:TieredStopAtLevel=1; fi
}

# The collector, as KAFKA_TEST_BROKER_GC chooses (check_java refuses another value): `g1` (the
# default) with the options of Kafka's start script, or `shenandoah`, whose pauses are below a
# millisecond. On the one CPU the benchmark pins the broker to, G1's young collections stop the
# broker for 20-25 ms each (jstat: 35 of them in 0.80 s), three or so in a 13 s latency run:
# every record of each pause is late by what is left of it, for every client alike, and they
# were most of the p99 of every client (runner at 1,000/s: 4.0-4.6 ms with G1, 1.4-2.7 with
# Shenandoah; G1 with a 5 ms pause goal still paused 22 ms; ZGC's concurrent work on the same
# CPU gave 2.5-3.9). `scripts/bench.sh` sets shenandoah.
gc_args() {
  case ${KAFKA_TEST_BROKER_GC:-g1} in
    shenandoah) echo -XX:+UseShenandoahGC ;;
    *)
      echo -XX:+UseG1GC -XX:MaxGCPauseMillis=20
      if [[ ${KAFKA_TEST_BROKER_JIT:-quick} == full ]]; then
        echo -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent
      fi
      ;;
  esac
}

jvm_args() {
  local heap=-Xms256m extra=
  if [[ ${KAFKA_TEST_BROKER_JIT:-quick} == full ]]; then
    heap=-Xms1g
    extra=-XX:MaxInlineLevel=15
  fi
  echo $heap -Xmx1g $(gc_args) $extra -Djava.awt.headless=true $(jit_args)
}

# Launches the broker on the configuration and data in $state (in the background).
launch() {
  local t0=$1 java=$2 cp=$3 base
  base=$(cat "$state/port-base")
  # KAFKA_TEST_BROKER_CPUS pins the broker (e.g. `1`), so a benchmark pinned to the other
  # CPUs does not share them with the JVM.
  local pin=()
  if [[ -n ${KAFKA_TEST_BROKER_CPUS:-} ]]; then
    command -v taskset >/dev/null || die "KAFKA_TEST_BROKER_CPUS needs taskset (util-linux)"
    [[ $KAFKA_TEST_BROKER_CPUS =~ ^[0-9,-]+$ ]] ||
      die "KAFKA_TEST_BROKER_CPUS=\`$KAFKA_TEST_BROKER_CPUS\` is not a CPU list such as 1 or 2-3"
    pin=(taskset -c "$KAFKA_TEST_BROKER_CPUS")
  fi
  # shellcheck disable=SC2046 # the JVM options are words
  nohup "${pin[@]}" "$java" $(jvm_args) "-Dlog4j2.configurationFile=$state/log4j2.properties" -cp "$cp" \
    kafka.Kafka "$state/server.properties" >>"$state/broker.out" 2>&1 &
  echo $! >"$state/pid"
  echo "$t0" >"$state/started-ms"
  log "broker launched (pid $!, ports $base..$((base + 4)), state in $state) $(($(now_ms) - t0)) ms after start"
}

cmd_start() {
  if ((external)); then
    log "KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS is set: using that cluster, starting no broker"
    return
  fi
  mkdir -p "$state"
  if pid_alive; then
    log "a broker from an earlier run (pid $(cat "$state/pid")) is still up; stopping it first"
    cmd_stop
  fi
  local t0 java cp base
  t0=$(now_ms)
  java=$(java_bin)
  check_java "$java"
  cp=$(classpath)
  base=$(pick_ports)
  rm -rf "$state/data" "$state/server.log" "$state/broker.out"
  make_tls
  write_config "$base"
  local scram=() u
  for u in "${users[@]}"; do
    scram+=(--add-scram "SCRAM-SHA-256=[name=$u,password=$u-secret]" --add-scram "SCRAM-SHA-512=[name=$u,password=$u-secret]")
  done
  # shellcheck disable=SC2046 # the JVM options are words
  if ! "$java" $(jvm_args) "-Dlog4j2.configurationFile=$state/log4j2.properties" -cp "$cp" \
    kafka.tools.StorageTool format -t "kafka-utils-test-cluster1" \
    -c "$state/server.properties" "${scram[@]}" >"$state/format.log" 2>&1; then
    tail -n 30 "$state/format.log" >&2
    die "formatting the broker's storage failed (log: $state/format.log)"
  fi
  launch "$t0" "$java" "$cp"
}

# Stops the broker and starts it again on the same ports, configuration and data.
cmd_restart() {
  ((external)) && die "KAFKA_BOOTSTRAP_SERVERS is set: there is no broker of ours to restart"
  [[ -f $state/server.properties && -d $state/data ]] ||
    die "no broker to restart in $state (run \`broker/kafka.sh start\` first)"
  cmd_stop
  local t0 java cp
  t0=$(now_ms)
  java=$(java_bin)
  cp=$(classpath)
  launch "$t0" "$java" "$cp"
}

log_tail() {
  log "last lines of the broker's log:"
  tail -n 40 "$state/server.log" 2>/dev/null >&2 || true
  tail -n 20 "$state/broker.out" 2>/dev/null >&2 || true
}

cmd_wait() {
  if ((!external)); then
    [[ -f $state/env ]] || die "no broker was started (run \`broker/kafka.sh start\` first)"
    source "$state/env"
  fi
  # The probe scripts/test.sh built (KAFKA_TEST_READY_PROBE), else built here: cargo says where
  # it put it (CARGO_TARGET_DIR, a build.target-dir config, ...).
  local probe=${KAFKA_TEST_READY_PROBE:-}
  if [[ -z $probe ]]; then
    probe=$(cd "$repo" && cargo build -q --locked -p kafka-utils-tests --bin broker-ready --message-format=json \
      | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1) || die "could not build the readiness probe"
  fi
  [[ -n $probe && -x $probe ]] || die "could not build the readiness probe (cargo named no executable)"
  if ((!external)) && ! pid_alive; then
    log_tail
    die "the broker (pid $(cat "$state/pid")) exited before it was ready"
  fi
  if ! KAFKA_TEST_READY_TIMEOUT_SECS=$ready_timeout "$probe"; then
    ((external)) || log_tail
    die "the broker did not answer metadata requests within ${ready_timeout}s"
  fi
  if ((!external)); then
    log "broker ready $(($(now_ms) - $(cat "$state/started-ms"))) ms after start"
  fi
}

cmd_stop() {
  if ! [[ -f $state/pid ]]; then return; fi
  local pid
  pid=$(cat "$state/pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      log "broker (pid $pid) did not stop within 30s of SIGTERM; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
    fi
    log "broker (pid $pid) stopped"
  fi
  rm -f "$state/pid"
}

cmd_status() {
  if pid_alive; then
    echo "running: pid $(cat "$state/pid"), ports from $(cat "$state/port-base"), state $state"
  else
    echo "not running"
    return 1
  fi
}

cmd_run() {
  [[ $# -gt 0 ]] || die "usage: broker/kafka.sh run COMMAND [ARGS...]"
  trap 'cmd_stop' EXIT
  trap 'exit 130' INT TERM
  cmd_start
  cmd_wait
  ((external)) || source "$state/env"
  "$@"
}

# Sourced (by broker/cluster.sh) for its functions: no command then.
[[ ${BASH_SOURCE[0]} == "$0" ]] || return 0

case ${1:-} in
start) cmd_start ;;
restart) cmd_restart ;;
wait) cmd_wait ;;
stop) cmd_stop ;;
status) cmd_status ;;
env) cat "$state/env" ;;
run) shift && cmd_run "$@" ;;
*) die "usage: broker/kafka.sh start|wait|stop|restart|status|env|run COMMAND..." ;;
esac
