#!/usr/bin/env bash
# Runs the commitlog-sync CPU matrix on a private node (cluster "floor", 127.0.0.7).
# usage: run_matrix.sh OUT.jsonl CONFIG... (CONFIG: group:2ms group:20ms periodic batch)
set -euo pipefail
OUT=$1; shift
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(git -C "$HERE" rev-parse --show-toplevel)
LG=$REPO/bin/loadgen
H=127.0.0.7; KS=floor_ks
PIDF=$HOME/.local/share/userapi-cassandra/clusters/floor/node1/cassandra.pid
jit_ticks() { # utime+stime of the JIT compiler threads
  local t sum=0 f
  for t in /proc/$1/task/*; do
    case "$(cat "$t/comm" 2>/dev/null)" in C1\ Compiler*|C2\ Compiler*) f=($(sed 's/.*) //' "$t/stat")); sum=$((sum + f[11] + f[12]));; esac
  done
  echo $sum
}
cs() { (cd "$REPO" && CASSANDRA_CLUSTER=floor CASSANDRA_ADDR_BASE=7 "$@"); }
for cfg in "$@"; do
  mode=${cfg%%:*}; win=${cfg#*:}; [ "$win" = "$cfg" ] && win=2ms
  name=$mode; [ "$mode" = group ] && name=group-$win
  echo "=== $name $(date +%T)"
  cs scripts/cassandra.sh stop
  CASSANDRA_COMMITLOG_SYNC=$mode CASSANDRA_COMMITLOG_WINDOW=$win cs scripts/cassandra.sh start
  PID=$(cat "$PIDF")
  grep -E '^commitlog_sync' "$HOME/.local/share/userapi-cassandra/clusters/floor/node1/conf/cassandra.yaml" | tr '\n' ' '; echo
  # JIT warm-up, not measured: repeat until the JIT compiler threads use < 40 ms/s
  for i in 1 2 3 4 5 6 7 8; do
    c0=$(jit_ticks "$PID"); t0=$(date +%s.%N)
    $LG raw -hosts $H -keyspace $KS -scenario create -c 64 -d 8s -q >/dev/null
    $LG raw -hosts $H -keyspace $KS -scenario get -c 64 -d 4s -q >/dev/null
    $LG raw -hosts $H -keyspace $KS -scenario create -c 64 -R 1000 -d 2s -q >/dev/null
    c1=$(jit_ticks "$PID"); t1=$(date +%s.%N)
    jit=$(python3 -c "print(round(($c1-$c0)*1000/$(getconf CLK_TCK)/($t1-$t0)))")
    echo "warm-up round $i: JIT compiler threads $jit ms/s"
    [ "$jit" -lt 40 ] && [ "$i" -ge 2 ] && break
  done
  sleep 2
  python3 "$HERE/cpumeasure.py" idle "$PID" "$name idle" "$OUT" 10
  for run in "create c64" "create R500" "create R1000" "create R3000" "get c64"; do
    set -- $run
    args=(-c 64)
    case $2 in R*) args+=(-R "${2#R}");; esac
    python3 "$HERE/cpumeasure.py" run "$PID" "$name $1 $2" "$OUT" -- $LG raw -hosts $H -keyspace $KS -scenario "$1" "${args[@]}" -d 8s
  done
done
