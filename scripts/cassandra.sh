#!/usr/bin/env bash
# cassandra.sh: run a real Apache Cassandra 5.0 on this machine without Docker.
#
# The server jars come from Maven Central into a cache outside git; each node is
# one JVM on its own loopback address with its own data and log directories.
#
# Usage: scripts/cassandra.sh start|stop|status|wait|cqlsh|logs|restart|kill|pause|resume [args]
#
#   start    start the node(s) unless already running, then wait until CQL answers
#   stop     stop the node(s) we started (by pid file), waiting for the JVM to exit
#   status   print each node's state; exit 0 when all answer CQL
#   wait     block until CQL answers on each node (CASSANDRA_WAIT_TIMEOUT seconds)
#   cqlsh    interactive CQL shell on node 1, or `cqlsh -e "QUERY"`
#   logs     tail the node's log (`logs -f` to follow)
#   nodetool nodetool against the node over local JMX, e.g. `nodetool getendpoints ks users KEY`
#   kill     kill -9 the node (fault drills), pause/resume: SIGSTOP/SIGCONT
#
# Environment (all optional):
#   CASSANDRA_VERSION     cassandra-all version from Maven Central (default 5.0.8)
#   CASSANDRA_CACHE_DIR   jar cache (default ${XDG_CACHE_HOME:-~/.cache}/userapi-cassandra)
#   CASSANDRA_DATA_DIR    data, logs, pid files (default ${XDG_DATA_HOME:-~/.local/share}/userapi-cassandra)
#   CASSANDRA_NODES       how many nodes (default 1); more than one form the cluster
#                         "ring" on 127.0.0.11 .. (unless CASSANDRA_CLUSTER/_ADDR_BASE say otherwise)
#   CASSANDRA_NODE        act on these node numbers only, e.g. 2 or "3 4" (default: all of 1..CASSANDRA_NODES)
#   CASSANDRA_CLUSTER     a separate cluster (own name, data dir, addresses); default: the main one
#   CASSANDRA_ADDR_BASE   last octet of node 1's address (default 1: 127.0.0.1; node k is BASE+k-1)
#   CASSANDRA_DC_LAYOUT   data centres and their nodes' last octets, e.g. "dc1:41,42 dc2:51,52":
#                         GossipingPropertyFileSnitch, a cassandra-rackdc.properties per node,
#                         the first node of each DC a seed; nodes are numbered in this order and
#                         CASSANDRA_NODES/_ADDR_BASE are ignored (default cluster name "dcs")
#   CASSANDRA_HEAP        JVM heap per node (default 1g for one node, 768m for a cluster)
#   CASSANDRA_COMMITLOG_SYNC  group (default: acknowledged writes survive kill -9), periodic or batch
#   CASSANDRA_COMMITLOG_WINDOW  group commit window (default 2ms)
#   CASSANDRA_AUTH        1: PasswordAuthenticator (user cassandra / cassandra)
#   CASSANDRA_TLS_DIR     when set: client TLS on port 9042 with keystore.p12 from this dir
#   CASSANDRA_WAIT_TIMEOUT  seconds `wait` and `start` allow (default 180)
set -euo pipefail

VERSION=${CASSANDRA_VERSION:-5.0.8}
CACHE_DIR=${CASSANDRA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/userapi-cassandra}
DATA_DIR=${CASSANDRA_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/userapi-cassandra}
# Absolute paths: nodes start in their own directories (see start_node).
case $CACHE_DIR in /*) ;; *) CACHE_DIR=$PWD/$CACHE_DIR ;; esac
case $DATA_DIR in /*) ;; *) DATA_DIR=$PWD/$DATA_DIR ;; esac
NODES=${CASSANDRA_NODES:-1}
CLUSTER=${CASSANDRA_CLUSTER:-}
ADDR_BASE=${CASSANDRA_ADDR_BASE:-1}
# A DC layout lists each node's DC and address: "dc1:41,42 dc2:51,52" gives
# node 1 = dc1 127.0.0.41, node 2 = dc1 .42, node 3 = dc2 .51, node 4 = dc2 .52.
LAYOUT_DCS=(); LAYOUT_OCTETS=()
if [ -n "${CASSANDRA_DC_LAYOUT:-}" ]; then
  for entry in $CASSANDRA_DC_LAYOUT; do
    dc=${entry%%:*}
    [ "$dc" != "$entry" ] && [ -n "$dc" ] || { printf 'cassandra.sh: error: CASSANDRA_DC_LAYOUT entry %s is not dc:octet,octet\n' "$entry" >&2; exit 1; }
    IFS=, read -r -a octs <<<"${entry#*:}"
    for o in "${octs[@]}"; do LAYOUT_DCS+=("$dc"); LAYOUT_OCTETS+=("$o"); done
  done
  NODES=${#LAYOUT_OCTETS[@]}
  CLUSTER=${CLUSTER:-dcs}
fi
# Several nodes form their own cluster ("ring", 127.0.0.11 and up) unless
# told otherwise: joining nodes to the single dev node on 127.0.0.1 would
# leave that node, once started alone again, owning a third of its ring.
if [ "$NODES" -gt 1 ] && [ -z "$CLUSTER" ]; then
  CLUSTER=ring
  ADDR_BASE=${CASSANDRA_ADDR_BASE:-11}
fi
[ -n "$CLUSTER" ] && DATA_DIR="$DATA_DIR/clusters/$CLUSTER"
WAIT_TIMEOUT=${CASSANDRA_WAIT_TIMEOUT:-180}
COMMITLOG_SYNC=${CASSANDRA_COMMITLOG_SYNC:-group}
LIB_DIR="$CACHE_DIR/$VERSION/lib"
ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

log() { printf 'cassandra.sh: %s\n' "$*" >&2; }
die() { printf 'cassandra.sh: error: %s\n' "$*" >&2; exit 1; }

if [ "$NODES" -gt 1 ]; then DEFAULT_HEAP=768m; else DEFAULT_HEAP=1g; fi
HEAP=${CASSANDRA_HEAP:-$DEFAULT_HEAP}

node_list() {
  if [ -n "${CASSANDRA_NODE:-}" ]; then printf '%s\n' ${CASSANDRA_NODE//,/ }; else seq 1 "$NODES"; fi
}
node_octet() {
  if [ ${#LAYOUT_OCTETS[@]} -gt 0 ]; then echo "${LAYOUT_OCTETS[$(($1 - 1))]}"; else echo $((ADDR_BASE + $1 - 1)); fi
}
node_addr() { echo "127.0.0.$(node_octet "$1")"; }
# Local JMX binds 127.0.0.1 only, so each node has a port of its own.
jmx_port() { echo $((7198 + $(node_octet "$1"))); }
node_dir() { echo "$DATA_DIR/node$1"; }
pid_file() { echo "$(node_dir "$1")/cassandra.pid"; }
log_file() { echo "$(node_dir "$1")/logs/system.log"; }

node_pid() {
  local f; f=$(pid_file "$1")
  [ -f "$f" ] || return 1
  local pid; pid=$(cat "$f")
  # Only a pid that is still our CassandraDaemon counts: pids get reused.
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "CassandraDaemon"; then
    echo "$pid"; return 0
  fi
  return 1
}

# --- prerequisites ---------------------------------------------------------

apt_install() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing $* with apt-get"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1; then
      apt-get update -qq >/dev/null 2>&1 || true
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null || die "apt-get install $* failed"
    fi
  else
    die "missing $*: run: sudo apt-get install -y $*"
  fi
}

find_java17() {
  local c
  for c in "${CASSANDRA_JAVA:-}" "${JAVA17_HOME:+$JAVA17_HOME/bin/java}" /usr/lib/jvm/java-17-openjdk-*/bin/java /usr/lib/jvm/java-11-openjdk-*/bin/java; do
    [ -n "$c" ] && [ -x "$c" ] && { echo "$c"; return 0; }
  done
  return 1
}

ensure_java() {
  JAVA=$(find_java17) || { apt_install openjdk-17-jre-headless; JAVA=$(find_java17) || die "Java 17 not found after install"; }
}

ensure_jars() {
  if [ -f "$LIB_DIR/.complete" ]; then return 0; fi
  command -v mvn >/dev/null || apt_install maven
  ensure_java
  local javahome; javahome=$(dirname "$(dirname "$JAVA")")
  mkdir -p "$CACHE_DIR/$VERSION"
  local pom="$CACHE_DIR/$VERSION/pom.xml"
  cat >"$pom" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.userapi</groupId>
  <artifactId>cassandra-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.cassandra</groupId>
      <artifactId>cassandra-all</artifactId>
      <version>$VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF
  log "resolving cassandra-all $VERSION and its runtime dependencies into $LIB_DIR"
  rm -rf "$LIB_DIR.tmp"
  if ! JAVA_HOME="$javahome" mvn -q -B -f "$pom" \
      org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$LIB_DIR.tmp" >"$CACHE_DIR/$VERSION/mvn.log" 2>&1; then
    tail -30 "$CACHE_DIR/$VERSION/mvn.log" >&2
    die "maven could not resolve cassandra-all $VERSION (log: $CACHE_DIR/$VERSION/mvn.log)"
  fi
  rm -rf "$LIB_DIR"; mv "$LIB_DIR.tmp" "$LIB_DIR"
  touch "$LIB_DIR/.complete"
  log "cached $(ls "$LIB_DIR" | wc -l) jars"
}

# cqlping answers whether CQL works on an address. It is built from this
# checkout's cmd/cqlping on every run of this script (the Go build cache makes
# that a link step), so a binary left from an earlier checkout never stands in
# for source that git lacks.
CQLPING="$CACHE_DIR/bin/cqlping"
CQLPING_BUILT=0
ensure_cqlping() {
  [ "$CQLPING_BUILT" = 1 ] && return 0
  [ -f "$ROOT_DIR/cmd/cqlping/main.go" ] ||
    die "the CQL readiness probe's source $ROOT_DIR/cmd/cqlping/main.go is missing: is the checkout complete? (git status)"
  command -v go >/dev/null || die "go is needed to build the CQL readiness probe (cmd/cqlping)"
  mkdir -p "$CACHE_DIR/bin"
  rm -f "$CQLPING"
  (cd "$ROOT_DIR" && go build -o "$CQLPING" ./cmd/cqlping) || die "building cmd/cqlping failed"
  CQLPING_BUILT=1
}

# --- configuration -----------------------------------------------------------

write_config() {
  local n=$1 addr dir seeds token
  addr=$(node_addr "$n"); dir=$(node_dir "$n")
  mkdir -p "$dir/conf" "$dir/data" "$dir/commitlog" "$dir/hints" "$dir/saved_caches" "$dir/logs" "$dir/cdc"
  seeds="$(node_addr 1):7000"
  # Evenly spaced single tokens: fastest start, and a ring we can reason about.
  token=$(python3 -c "print(-(2**63) + ($n-1) * (2**64 // $NODES))" 2>/dev/null || echo 0)
  [ "$NODES" -eq 1 ] && token=0
  local snitch=SimpleSnitch
  if [ ${#LAYOUT_DCS[@]} -gt 0 ]; then
    # Each DC's nodes evenly spaced, each DC offset by 100 (tokens must be
    # unique cluster-wide); the first node of every DC is a seed.
    local dc=${LAYOUT_DCS[$((n - 1))]} i prev="" d=-1 k=0 j=0 m=0
    seeds=""
    for i in "${!LAYOUT_DCS[@]}"; do
      if [ "${LAYOUT_DCS[$i]}" != "$prev" ]; then # the first node of a DC
        seeds+="${seeds:+,}127.0.0.${LAYOUT_OCTETS[$i]}:7000"; prev=${LAYOUT_DCS[$i]}; d=$((d + 1))
      fi
      if [ "${LAYOUT_DCS[$i]}" = "$dc" ]; then # k: the DC's index, j: the node's place in it, m: its size
        k=$d; m=$((m + 1))
        [ "$i" -lt $((n - 1)) ] && j=$((j + 1))
      fi
    done
    token=$(python3 -c "print(-(2**63) + $j * (2**64 // $m) + $k * 100)")
    snitch=GossipingPropertyFileSnitch
    printf 'dc=%s\nrack=r1\n' "$dc" >"$dir/conf/cassandra-rackdc.properties"
  fi
  local authn=AllowAllAuthenticator authz=AllowAllAuthorizer
  if [ "${CASSANDRA_AUTH:-0}" = 1 ]; then authn=PasswordAuthenticator; authz=CassandraAuthorizer; fi
  local sync_line
  case "$COMMITLOG_SYNC" in
    group) sync_line=$'commitlog_sync: group\ncommitlog_sync_group_window: '"${CASSANDRA_COMMITLOG_WINDOW:-2ms}" ;;
    batch) sync_line=$'commitlog_sync: batch' ;;
    periodic) sync_line=$'commitlog_sync: periodic\ncommitlog_sync_period: 10000ms' ;;
    *) die "CASSANDRA_COMMITLOG_SYNC must be group, batch or periodic, not $COMMITLOG_SYNC" ;;
  esac
  local tls_block=""
  if [ -n "${CASSANDRA_TLS_DIR:-}" ]; then
    tls_block="client_encryption_options:
  enabled: true
  optional: false
  keystore: ${CASSANDRA_TLS_DIR}/keystore.p12
  keystore_password: ${CASSANDRA_TLS_PASSWORD:-changeit}
  store_type: PKCS12
  require_client_auth: ${CASSANDRA_TLS_CLIENT_AUTH:-false}
  truststore: ${CASSANDRA_TLS_DIR}/truststore.p12
  truststore_password: ${CASSANDRA_TLS_PASSWORD:-changeit}"
  fi
  cat >"$dir/conf/cassandra.yaml" <<EOF
# Written by scripts/cassandra.sh for node $n; edits are overwritten on start.
cluster_name: userapi-${CLUSTER:-local}
num_tokens: 1
initial_token: $token
allocate_tokens_for_local_replication_factor: 1
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
endpoint_snitch: $snitch
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "$seeds"
listen_address: $addr
rpc_address: $addr
native_transport_port: 9042
storage_port: 7000
data_file_directories:
  - $dir/data
commitlog_directory: $dir/commitlog
hints_directory: $dir/hints
saved_caches_directory: $dir/saved_caches
cdc_raw_directory: $dir/cdc
$sync_line
commitlog_segment_size: 32MiB
authenticator: $authn
authorizer: $authz
role_manager: CassandraRoleManager
auto_snapshot: false
snapshot_on_duplicate_row_detection: false
concurrent_reads: 16
concurrent_writes: 32
concurrent_counter_writes: 16
memtable_allocation_type: offheap_objects
compaction_throughput: 64MiB/s
batch_size_warn_threshold: 5KiB
batch_size_fail_threshold: 50KiB
unlogged_batch_across_partitions_warn_threshold: 10
read_request_timeout: 5000ms
write_request_timeout: 2000ms
range_request_timeout: 10000ms
request_timeout: 10000ms
hinted_handoff_enabled: true
dynamic_snitch: true
start_native_transport: true
$tls_block
EOF
  cat >"$dir/conf/logback.xml" <<EOF
<configuration scan="false">
  <appender name="FILE" class="ch.qos.logback.core.FileAppender">
    <file>$dir/logs/system.log</file>
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <logger name="org.apache.cassandra" level="INFO"/>
  <logger name="com.datastax" level="WARN"/>
  <root level="WARN"><appender-ref ref="FILE"/></root>
</configuration>
EOF
}

# Java 17 module flags from Cassandra's conf/jvm17-server.options: without
# them the JVM dies during start-up (and nodetool too).
module_opts() {
  printf '%s\n' \
    "-Djdk.attach.allowAttachSelf=true" \
    "--add-exports" "java.base/jdk.internal.misc=ALL-UNNAMED" \
    "--add-exports" "java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED" \
    "--add-exports" "java.management/com.sun.jmx.remote.security=ALL-UNNAMED" \
    "--add-exports" "java.rmi/sun.rmi.registry=ALL-UNNAMED" \
    "--add-exports" "java.rmi/sun.rmi.server=ALL-UNNAMED" \
    "--add-exports" "java.sql/java.sql=ALL-UNNAMED" \
    "--add-exports" "java.base/java.lang.ref=ALL-UNNAMED" \
    "--add-exports" "jdk.unsupported/sun.misc=ALL-UNNAMED" \
    "--add-exports" "jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED" \
    "--add-exports" "jdk.attach/sun.tools.attach=ALL-UNNAMED" \
    "--add-opens" "java.base/java.lang.module=ALL-UNNAMED" \
    "--add-opens" "java.base/jdk.internal.loader=ALL-UNNAMED" \
    "--add-opens" "java.base/jdk.internal.ref=ALL-UNNAMED" \
    "--add-opens" "java.base/jdk.internal.reflect=ALL-UNNAMED" \
    "--add-opens" "java.base/jdk.internal.math=ALL-UNNAMED" \
    "--add-opens" "java.base/jdk.internal.module=ALL-UNNAMED" \
    "--add-opens" "java.base/jdk.internal.util.jar=ALL-UNNAMED" \
    "--add-opens" "jdk.management/com.sun.management.internal=ALL-UNNAMED" \
    "--add-opens" "java.base/sun.nio.ch=ALL-UNNAMED" \
    "--add-opens" "java.base/java.io=ALL-UNNAMED" \
    "--add-opens" "java.base/java.lang.reflect=ALL-UNNAMED" \
    "--add-opens" "jdk.compiler/com.sun.tools.javac=ALL-UNNAMED" \
    "--add-opens" "java.base/java.lang=ALL-UNNAMED" \
    "--add-opens" "java.base/java.util=ALL-UNNAMED" \
    "--add-opens" "java.base/java.nio=ALL-UNNAMED"
}

jvm_opts() {
  local n=$1 dir; dir=$(node_dir "$n")
  # A lone node needs no gossip settling; a joining node must hear the seed
  # within the ring delay, which takes longer on a busy 2-core machine.
  local ring_delay=1000
  [ "$NODES" -gt 1 ] && ring_delay=5000
  printf '%s\n' \
    "-ea" "-Xms$HEAP" "-Xmx$HEAP" "-Xss256k" "-XX:+UseG1GC" "-XX:MaxGCPauseMillis=200" \
    "-XX:MaxDirectMemorySize=512m" "-XX:+ExitOnOutOfMemoryError" \
    "-XX:+PerfDisableSharedMem" \
    "-Djava.net.preferIPv4Stack=true" \
    "-javaagent:$LIB_DIR/jamm-0.4.0.jar" \
    $(module_opts) \
    "-Dio.netty.tryReflectionSetAccessible=true" \
    "-Dcassandra.config=file://$dir/conf/cassandra.yaml" \
    "-Dcassandra.storagedir=$dir" \
    "-Dcassandra.logdir=$dir/logs" \
    "-Dcassandra-foreground=yes" \
    "-Dcassandra.jmx.local.port=$(jmx_port "$n")" \
    ${LAYOUT_DCS:+"-Dcassandra-rackdc.properties=file://$dir/conf/cassandra-rackdc.properties"} \
    "-Dcassandra.skip_wait_for_gossip_to_settle=0" \
    "-Dcassandra.load_ring_state=false" \
    "-Dcassandra.ring_delay_ms=$ring_delay" \
    "-Dcassandra.superuser_setup_delay_ms=0" \
    "-Dlogback.configurationFile=file://$dir/conf/logback.xml"
}

# --- commands ---------------------------------------------------------------

cql_ok() {
  local n=$1 args=(-host "$(node_addr "$n")" -timeout 3s)
  [ "${CASSANDRA_AUTH:-0}" = 1 ] && args+=(-user "${CASSANDRA_USERNAME:-cassandra}" -password "${CASSANDRA_PASSWORD:-cassandra}")
  [ -n "${CASSANDRA_TLS_DIR:-}" ] && args+=(-ca "$CASSANDRA_TLS_DIR/ca.pem")
  "$CQLPING" "${args[@]}" >/dev/null 2>&1
}

wait_node() {
  local n=$1 start=$SECONDS
  ensure_cqlping
  while true; do
    if cql_ok "$n"; then
      log "node $n ($(node_addr "$n")) answers CQL after $((SECONDS - start))s"
      return 0
    fi
    if ! node_pid "$n" >/dev/null; then
      log "node $n is not running; last lines of $(log_file "$n"):"
      tail -40 "$(log_file "$n")" 2>/dev/null >&2 || true
      tail -20 "$(node_dir "$n")/stdout.log" 2>/dev/null >&2 || true
      die "node $n exited during start-up (see above)"
    fi
    if [ $((SECONDS - start)) -ge "$WAIT_TIMEOUT" ]; then
      log "node $n did not answer CQL within ${WAIT_TIMEOUT}s; last lines of $(log_file "$n"):"
      tail -40 "$(log_file "$n")" 2>/dev/null >&2 || true
      die "timed out waiting for CQL on $(node_addr "$n"):9042"
    fi
    sleep 1
  done
}

start_node() {
  local n=$1 pid
  if pid=$(node_pid "$n"); then
    log "node $n already running (pid $pid)"
    return 0
  fi
  ensure_cqlping
  if cql_ok "$n"; then
    # A node we did not start (docker compose, say) already serves this
    # address: use it rather than fail or fetch what we would not run.
    log "a Cassandra node not started by this script already answers on $(node_addr "$n"):9042; using it"
    return 0
  fi
  ensure_java; ensure_jars
  write_config "$n"
  local dir; dir=$(node_dir "$n")
  local opts=(); mapfile -t opts < <(jvm_opts "$n")
  log "starting node $n on $(node_addr "$n") (heap $HEAP, commitlog_sync $COMMITLOG_SYNC, data $dir)"
  # setsid: the node outlives this shell and its process group, and we stop it by pid.
  # It runs in its own directory, never the caller's: a JVM whose working
  # directory (a CI checkout, say) is removed while it starts dies in its
  # first file access (ExceptionInInitializerError in ZipFile$Source).
  # exec keeps $! the JVM's pid.
  (cd "$dir" && exec setsid "$JAVA" "${opts[@]}" -cp "$LIB_DIR/*" org.apache.cassandra.service.CassandraDaemon) \
    >"$dir/stdout.log" 2>&1 </dev/null &
  echo $! >"$(pid_file "$n")"
  STARTED=1
}

stop_node() {
  local n=$1 pid
  if ! pid=$(node_pid "$n"); then
    rm -f "$(pid_file "$n")"
    log "node $n is not running"
    return 0
  fi
  kill -CONT "$pid" 2>/dev/null || true
  kill -TERM "$pid"
  local i
  for i in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "node $n (pid $pid) ignored SIGTERM for 30s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$(pid_file "$n")"
  log "node $n stopped (pid $pid)"
}

signal_node() {
  local n=$1 sig=$2 pid
  pid=$(node_pid "$n") || die "node $n is not running"
  kill "-$sig" "$pid"
  log "sent SIG$sig to node $n (pid $pid)"
  if [ "$sig" = KILL ]; then
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    rm -f "$(pid_file "$n")"
  fi
}

cmd_status() {
  local n pid rc=0
  ensure_cqlping
  for n in $(node_list); do
    if pid=$(node_pid "$n"); then
      local rss; rss=$(awk '/VmRSS/ {print $2 " " $3}' "/proc/$pid/status" 2>/dev/null)
      if cql_ok "$n"; then
        echo "node $n $(node_addr "$n"): running (pid $pid, rss $rss), CQL answers"
      else
        echo "node $n $(node_addr "$n"): running (pid $pid, rss $rss), CQL not answering"; rc=1
      fi
    else
      echo "node $n $(node_addr "$n"): stopped"; rc=1
    fi
  done
  return $rc
}

cmd_cqlsh() {
  local venv="$CACHE_DIR/cqlsh-venv"
  if [ ! -x "$venv/bin/cqlsh" ]; then
    command -v python3 >/dev/null || apt_install python3 python3-venv
    log "installing cqlsh from PyPI into $venv"
    python3 -m venv "$venv" >/dev/null || die "python3 -m venv failed (apt-get install python3-venv)"
    "$venv/bin/pip" install -q cqlsh >/dev/null || die "pip install cqlsh failed"
  fi
  local args=()
  [ "${CASSANDRA_AUTH:-0}" = 1 ] && args+=(-u "${CASSANDRA_USERNAME:-cassandra}" -p "${CASSANDRA_PASSWORD:-cassandra}")
  exec "$venv/bin/cqlsh" "${args[@]}" "$(node_addr "${CASSANDRA_NODE:-1}")" 9042 "$@"
}

cmd=${1:-}
shift || true
case "$cmd" in
  start)
    for n in $(node_list); do
      STARTED=0
      start_node "$n"
      # A joining node that missed the seed's gossip exits; one more try.
      if [ "$STARTED" = 1 ] && [ "$n" -gt 1 ] && ! (wait_node "$n"); then
        log "node $n failed to join; starting it once more"
        start_node "$n"
      fi
      wait_node "$n"
    done ;;
  stop)
    for n in $(node_list | sort -rn); do stop_node "$n"; done ;;
  restart)
    for n in $(node_list | sort -rn); do stop_node "$n"; done
    for n in $(node_list); do start_node "$n"; wait_node "$n"; done ;;
  wait)
    for n in $(node_list); do wait_node "$n"; done ;;
  status) cmd_status ;;
  cqlsh) cmd_cqlsh "$@" ;;
  logs)
    if [ "${1:-}" = -f ]; then exec tail -F "$(log_file "${CASSANDRA_NODE:-1}")"; fi
    tail -n "${1:-100}" "$(log_file "${CASSANDRA_NODE:-1}")" ;;
  kill) for n in $(node_list); do signal_node "$n" KILL; done ;;
  pause) for n in $(node_list); do signal_node "$n" STOP; done ;;
  resume) for n in $(node_list); do signal_node "$n" CONT; done ;;
  jars) ensure_jars; echo "$LIB_DIR" ;;
  nodetool)
    ensure_java; ensure_jars
    n=${CASSANDRA_NODE:-1}
    mapfile -t mods < <(module_opts)
    exec "$JAVA" -Xmx128m "${mods[@]}" -Dcassandra.logdir="$(node_dir "$n")/logs" -cp "$LIB_DIR/*" -Dlogback.configurationFile="file://$(node_dir "$n")/conf/logback.xml" \
      org.apache.cassandra.tools.NodeTool -h 127.0.0.1 -p "$(jmx_port "$n")" "$@" ;;
  *)
    sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'
    [ -z "$cmd" ] || [ "$cmd" = help ] || [ "$cmd" = -h ] || exit 2 ;;
esac
