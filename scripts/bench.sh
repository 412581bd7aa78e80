#!/usr/bin/env bash
# bench.sh: the `make bench` suite.
#
# Starts the local Cassandra node if it is not up, builds bin/userapi and
# bin/loadgen, and runs get-by-id, create and mixed loads at a fixed
# concurrency for a fixed duration in three modes, alternating their order
# in each repeat:
#
#   api         bin/userapi as shipped (token-aware batching on)
#   raw         loadgen raw: the same reads and writes straight to Cassandra
#   api-batch1  bin/userapi with batching off (-batch-max 1)
#
# plus a calibration of the client: loadgen and wrk -t1, alternating, against
# a no-op fasthttp server (client and server pinned to different cores).
# The server is started for each API mode on its own port and keyspace and
# stopped by its pid; loadgen reads its CPU time and peak RSS from /proc.
# Results go to bench/results/<UTC timestamp>/: runs/, logs/, meta.json, and
# from `loadgen report`: report.md, results.json, throughput and latency plots.
#
# Environment (all optional):
#   BENCH_DURATION      each measured run (default 6s; the suite then takes ~4 min)
#   BENCH_CONNS         connections / concurrent queries (default 64)
#   BENCH_REPEATS       alternating repeats; the report uses medians (default 3)
#   BENCH_SCENARIOS     subset of "get create mixed" (default all three)
#   BENCH_MODES         subset of "noop api raw api-batch1" (default all)
#   BENCH_MIX           the mixed scenario's weights (default read=80,write=20)
#   BENCH_WARMUP        users created before each get/mixed run (default 1000)
#   BENCH_NOOP_DURATION each calibration run (default 3s)
#   BENCH_WARM_DURATION an uncounted first pass of every mode (default 3s; 0: none)
#   BENCH_PORT          the API's port (default 18480); BENCH_NOOP_PORT (18481)
#   BENCH_API_KEYSPACE  the server's keyspace (default bench_api)
#   BENCH_RAW_KEYSPACE  raw mode's keyspace (default bench_raw)
#   BENCH_USERAPI_FLAGS extra flags for every server start
#   BENCH_NOBATCH_FLAGS flags that turn batching off (default "-batch-max 1")
#   BENCH_PROFILE       1 (default): after the measured runs, one more get-by-id
#                       run with the server's pprof on (-pprof-listen
#                       127.0.0.1:BENCH_PPROF_PORT, default 18482); CPU and
#                       allocation profiles go to pprof/ and into the report
#   BENCH_OUT           results directory (default bench/results/<timestamp>)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

DURATION=${BENCH_DURATION:-6s}
CONNS=${BENCH_CONNS:-64}
REPEATS=${BENCH_REPEATS:-3}
SCENARIOS=${BENCH_SCENARIOS:-get create mixed}
MODES=${BENCH_MODES:-noop api raw api-batch1}
MIX=${BENCH_MIX:-read=80,write=20}
WARMUP=${BENCH_WARMUP:-1000}
NOOP_DURATION=${BENCH_NOOP_DURATION:-3s}
WARM_DURATION=${BENCH_WARM_DURATION:-3s}
PORT=${BENCH_PORT:-18480}
NOOP_PORT=${BENCH_NOOP_PORT:-18481}
API_KEYSPACE=${BENCH_API_KEYSPACE:-bench_api}
RAW_KEYSPACE=${BENCH_RAW_KEYSPACE:-bench_raw}
USERAPI_FLAGS=${BENCH_USERAPI_FLAGS:-}
NOBATCH_FLAGS=${BENCH_NOBATCH_FLAGS:--batch-max 1}
PROFILE=${BENCH_PROFILE:-1}
PPROF_PORT=${BENCH_PPROF_PORT:-18482}
OUT=${BENCH_OUT:-bench/results/$(date -u +%Y%m%dT%H%M%SZ)}
RUN_DIR="$OUT/runs"
export CASSANDRA_HOSTS=${CASSANDRA_HOSTS:-127.0.0.1}

LOADGEN=$ROOT/bin/loadgen
USERAPI=$ROOT/bin/userapi
SERVER_PID=""
NOOP_PID=""

log() { printf 'bench.sh: %s\n' "$*" >&2; }
die() { printf 'bench.sh: error: %s\n' "$*" >&2; exit 1; }
has_mode() { [[ " $MODES " == *" $1 "* ]]; }

for v in "$CONNS" "$REPEATS" "$WARMUP" "$PORT" "$NOOP_PORT"; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || die "BENCH_CONNS, BENCH_REPEATS, BENCH_WARMUP and the ports must be positive integers (got '$v')"
done
for m in $MODES; do
  case "$m" in noop|api|raw|api-batch1) ;; *) die "BENCH_MODES: unknown mode '$m' (want noop, api, raw, api-batch1)" ;; esac
done
for s in $SCENARIOS; do
  case "$s" in get|create|mixed) ;; *) die "BENCH_SCENARIOS: unknown scenario '$s' (want get, create, mixed)" ;; esac
done

# --- processes we start, and only those, are stopped by pid ---------------

stop_pid() {
  local pid=$1 name=$2 i
  [ -n "$pid" ] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.2
  done
  log "$name (pid $pid) did not stop in 20s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
}

stop_server() { stop_pid "$SERVER_PID" userapi; SERVER_PID=""; }
cleanup() {
  stop_server
  stop_pid "$NOOP_PID" "noop server"
  NOOP_PID=""
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start_server LABEL [FLAGS...]: bin/userapi on $PORT, ready when /ready is 200.
start_server() {
  local label=$1; shift
  port_busy "$PORT" && die "port $PORT is taken by another process; set BENCH_PORT"
  local logf="$OUT/logs/userapi-$label.log"
  # shellcheck disable=SC2086 # the flag strings are meant to split into words
  CASSANDRA_KEYSPACE=$API_KEYSPACE "$USERAPI" -listen "127.0.0.1:$PORT" $USERAPI_FLAGS "$@" >"$logf" 2>&1 &
  SERVER_PID=$!
  local start=$SECONDS
  until curl -fsS -o /dev/null "http://127.0.0.1:$PORT/ready" 2>/dev/null; do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      tail -20 "$logf" >&2 || true
      die "bin/userapi exited during start-up (log: $logf)"
    fi
    [ $((SECONDS - start)) -lt 60 ] || { tail -20 "$logf" >&2; die "bin/userapi not ready after 60s (log: $logf)"; }
    sleep 0.2
  done
  log "userapi $label up (pid $SERVER_PID, $*) after $((SECONDS - start))s"
}

scenario_flags() {
  case "$1" in
    get) echo "-scenario get" ;;
    create) echo "-scenario create" ;;
    mixed) echo "-scenario mix -mix $MIX" ;;
  esac
}

summary_line() { grep -E '^Requests/sec:' "$1" | tr -s ' ' || true; }

# run_api MODE SCENARIO REPEAT
run_api() {
  local mode=$1 sc=$2 rep=$3 name="$1-$2-$3"
  # shellcheck disable=SC2046 # scenario_flags is a word list
  "$LOADGEN" $(scenario_flags "$sc") -c "$CONNS" -d "$DURATION" -warmup "$WARMUP" -q -format wrk \
    -pid "$SERVER_PID" -label mode="$mode" -label scenario="$sc" -label repeat="$rep" \
    -out "$RUN_DIR/$name.json" "http://127.0.0.1:$PORT" >"$OUT/logs/$name.txt"
  log "$name: $(summary_line "$OUT/logs/$name.txt")"
}

# run_profile: one more get-by-id run, not counted, while the server's CPU
# and allocation profiles are taken: profiling costs a few percent, so the
# measured runs go without it.
run_profile() {
  local secs
  secs=$(awk -v d="${DURATION%s}" 'BEGIN { s = int(d) - 1; print (s < 1 ? 1 : s) }')
  start_server profile -pprof-listen "127.0.0.1:$PPROF_PORT"
  curl -fsS -o "$OUT/pprof/api-get.cpu.pprof" "http://127.0.0.1:$PPROF_PORT/debug/pprof/profile?seconds=$secs" &
  local cpu_pid=$!
  curl -fsS -o "$OUT/pprof/api-get.allocs.pprof" "http://127.0.0.1:$PPROF_PORT/debug/pprof/allocs?seconds=$secs" &
  local allocs_pid=$!
  "$LOADGEN" -scenario get -c "$CONNS" -d "$DURATION" -warmup "$WARMUP" -q -format wrk \
    -out "$OUT/pprof/api-get-profiled.json" "http://127.0.0.1:$PORT" >"$OUT/logs/api-get-profiled.txt"
  wait "$cpu_pid" || log "no CPU profile"
  wait "$allocs_pid" || log "no allocation profile"
  stop_server
  local p index
  for p in cpu allocs; do
    [ -s "$OUT/pprof/api-get.$p.pprof" ] || continue
    index=""
    [ "$p" = allocs ] && index=-sample_index=alloc_space # bytes allocated during the run, not live
    # shellcheck disable=SC2086 # empty index is no argument
    go tool pprof -top -nodecount=30 $index "$USERAPI" "$OUT/pprof/api-get.$p.pprof" >"$OUT/pprof/api-get-$p.txt" 2>/dev/null ||
      log "go tool pprof could not read the $p profile"
  done
  log "profiles of a get-by-id run in $OUT/pprof"
}

run_raw() {
  local sc=$1 rep=$2 name="raw-$1-$2" flags
  flags=$(scenario_flags "$sc")
  # shellcheck disable=SC2086
  "$LOADGEN" raw $flags -keyspace "$RAW_KEYSPACE" -c "$CONNS" -d "$DURATION" -warmup "$WARMUP" -q -format wrk \
    -label mode=raw -label scenario="$sc" -label repeat="$rep" \
    -out "$RUN_DIR/$name.json" >"$OUT/logs/$name.txt"
  log "$name: $(summary_line "$OUT/logs/$name.txt")"
}

run_mode() {
  local mode=$1 rep=$2 sc
  case "$mode" in
    api)
      start_server "api-$rep"
      for sc in $SCENARIOS; do run_api api "$sc" "$rep"; done
      stop_server ;;
    api-batch1)
      # shellcheck disable=SC2086
      start_server "api-batch1-$rep" $NOBATCH_FLAGS
      for sc in $SCENARIOS; do run_api api-batch1 "$sc" "$rep"; done
      stop_server ;;
    raw)
      for sc in $SCENARIOS; do run_raw "$sc" "$rep"; done ;;
  esac
}

# The client calibration: both clients on one core, the server on another,
# so that the client is what limits (wrk -t1 is one thread).
run_noop() {
  if ! command -v wrk >/dev/null; then
    log "wrk not installed (apt-get install wrk): calibration runs loadgen alone"
  fi
  local client_cpu="" server_cpu=""
  if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    server_cpu="taskset -c 0"; client_cpu="taskset -c 1"
  fi
  port_busy "$NOOP_PORT" && die "port $NOOP_PORT is taken; set BENCH_NOOP_PORT"
  $server_cpu "$LOADGEN" noop -listen "127.0.0.1:$NOOP_PORT" -d 600s >"$OUT/logs/noop-server.log" 2>&1 &
  NOOP_PID=$!
  local i
  for i in $(seq 1 50); do port_busy "$NOOP_PORT" && break; sleep 0.1; done
  local rep url="http://127.0.0.1:$NOOP_PORT/"
  for rep in $(seq 1 "$REPEATS"); do
    if command -v wrk >/dev/null; then
      $client_cpu wrk -t1 -c "$CONNS" -d "$NOOP_DURATION" --latency "$url" >"$OUT/runs/wrk-noop__noop__$rep.wrk.txt"
      log "wrk-noop-$rep: $(summary_line "$OUT/runs/wrk-noop__noop__$rep.wrk.txt")"
    fi
    $client_cpu "$LOADGEN" -t 1 -c "$CONNS" -d "$NOOP_DURATION" -q -format wrk \
      -label mode=loadgen-noop -label scenario=noop -label repeat="$rep" \
      -out "$OUT/runs/loadgen-noop-noop-$rep.json" "$url" >"$OUT/logs/loadgen-noop-$rep.txt"
    log "loadgen-noop-$rep: $(summary_line "$OUT/logs/loadgen-noop-$rep.txt")"
  done
  stop_pid "$NOOP_PID" "noop server"
  NOOP_PID=""
}

write_meta() {
  local cpu mem
  cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo unknown)
  mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null || echo unknown)
  cat >"$OUT/meta.json" <<EOF
{
  "started": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "git": "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo '+dirty')",
  "machine": "$(nproc) cores, $mem, ${cpu//\"/}",
  "kernel": "$(uname -r)",
  "go": "$(go env GOVERSION)",
  "duration": "$DURATION per run",
  "connections": "$CONNS",
  "repeats": "$REPEATS (modes alternate their order each repeat)",
  "scenarios": "$SCENARIOS (mixed: $MIX)",
  "warm-up": "$WARMUP users created before each get and mixed run",
  "server": "bin/userapi -listen 127.0.0.1:$PORT $USERAPI_FLAGS (keyspace $API_KEYSPACE); batching off: $NOBATCH_FLAGS",
  "raw": "loadgen raw, keyspace $RAW_KEYSPACE, LOCAL_QUORUM, token-aware, 2 connections per host",
  "client": "loadgen on all cores beside the server and Cassandra (one machine)",
  "calibration": "loadgen -t 1 and wrk -t1, $NOOP_DURATION each, on core 1; no-op server on core 0"
}
EOF
}

main() {
  mkdir -p "$OUT/runs" "$OUT/logs" "$OUT/pprof"
  log "results in $OUT"
  go build -o "$LOADGEN" ./cmd/loadgen
  if has_mode api || has_mode api-batch1; then
    if ! compgen -G "cmd/userapi/*.go" >/dev/null; then
      die "cmd/userapi is not written yet: run with BENCH_MODES=\"noop raw\""
    fi
    go build -o "$USERAPI" ./cmd/userapi
    command -v curl >/dev/null || die "curl is needed to wait for the server (apt-get install curl)"
  fi
  if has_mode api || has_mode api-batch1 || has_mode raw; then
    if [ "$CASSANDRA_HOSTS" = 127.0.0.1 ]; then
      scripts/cassandra.sh start
    else
      log "using Cassandra at $CASSANDRA_HOSTS"
    fi
  fi
  write_meta

  local started=$SECONDS
  has_mode noop && run_noop
  # Rotate the order each repeat so no mode always runs first (on a cold
  # cache) or last (after the table has grown the most).
  local order=() m
  for m in api raw api-batch1; do has_mode "$m" && order+=("$m"); done
  local rep i n=${#order[@]}
  # One short pass of every mode first, not counted: the first runs after a
  # start meet a cold JVM, cold caches and a new keyspace, and were up to 5x
  # slower than the rest.
  if [ "$WARM_DURATION" != 0 ]; then
    local measured=$DURATION
    DURATION=$WARM_DURATION RUN_DIR="$OUT/warmup"
    mkdir -p "$RUN_DIR"
    for i in $(seq 0 $((n - 1))); do run_mode "${order[$i]}" 0; done
    DURATION=$measured RUN_DIR="$OUT/runs"
  fi
  for rep in $(seq 1 "$REPEATS"); do
    for i in $(seq 0 $((n - 1))); do
      run_mode "${order[$(((i + rep - 1) % n))]}" "$rep"
    done
  done
  log "runs took $((SECONDS - started))s"
  if [ "$PROFILE" = 1 ] && has_mode api && [[ " $SCENARIOS " == *" get "* ]]; then
    run_profile
  fi

  "$LOADGEN" report "$OUT"
  sed -n '/^## Targets/,/^## Throughput/p' "$OUT/report.md" | sed '$d'
}

main "$@"
