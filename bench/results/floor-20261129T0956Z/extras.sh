#!/usr/bin/env bash
# Extra fixed rates on the (warm) node left by run_matrix.sh, to fill in the CPU-vs-rate curve.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(git -C "$HERE" rev-parse --show-toplevel)
PID=$(cat $HOME/.local/share/userapi-cassandra/clusters/floor/node1/cassandra.pid)
mode=$(grep '^commitlog_sync:' $HOME/.local/share/userapi-cassandra/clusters/floor/node1/conf/cassandra.yaml | awk '{print $2}')
for rep in 1 2; do
  for R in 1500 6000; do
    python3 "$HERE/cpumeasure.py" run "$PID" "$mode create R$R" "$HERE/${1:-results.jsonl}" -- "$REPO/bin/loadgen" raw -hosts 127.0.0.7 -keyspace floor_ks -scenario create -c 64 -R $R -d 8s
  done
done
