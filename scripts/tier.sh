#!/usr/bin/env bash
# tier.sh: the production shape on this machine, without Docker: HAProxy in
# front of three userapi replicas on loopback ports, over the 3-node ring
# (127.0.0.11-13, RF=3, LOCAL_QUORUM; `make cluster-up` starts it).
#
# HAProxy runs the shipped deploy/haproxy/haproxy.cfg with only the local
# topology changed (`config` prints what it runs): server lines on loopback
# ports instead of Docker DNS, loopback binds, the error pages' path. Every
# other line (checks, timeouts, retries, balance) is what users deploy.
#
# Usage: scripts/tier.sh up|down|status|config|install
#
#   up       install HAProxy if needed, build bin/userapi, start the replicas
#            and HAProxy (pids in TIER_DIR), wait until HAProxy serves /ready
#   down     stop HAProxy, then each replica (SIGTERM, by pid file)
#   status   each process's state and HAProxy's view of the replicas
#   config   print the local HAProxy configuration derived from the shipped one
#   install  install Debian's haproxy package (apt-get as root; otherwise print
#            the command and fail)
#
# Environment (all optional):
#   TIER_DIR          pid files, logs, haproxy.cfg (default ${XDG_DATA_HOME:-~/.local/share}/userapi-tier)
#   TIER_LISTEN       HAProxy's frontend (default 127.0.0.1:18100)
#   TIER_STATS        HAProxy's stats page (default 127.0.0.1:18104)
#   TIER_SERVERS      the replicas' listen addresses (default "127.0.0.1:18101 127.0.0.1:18102 127.0.0.1:18103")
#   TIER_CASSANDRA_HOSTS  contact points (default 127.0.0.11,127.0.0.12,127.0.0.13)
#   TIER_KEYSPACE     keyspace (default user_management_tier)
#   TIER_DRAIN_DELAY  each replica's -drain-delay (default 3s: above the ~2s
#                     HAProxy takes to see /ready fail with inter 1s, fall 2)
set -euo pipefail

ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TIER_DIR=${TIER_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/userapi-tier}
LISTEN=${TIER_LISTEN:-127.0.0.1:18100}
STATS=${TIER_STATS:-127.0.0.1:18104}
read -r -a SERVERS <<<"${TIER_SERVERS:-127.0.0.1:18101 127.0.0.1:18102 127.0.0.1:18103}"
CASS_HOSTS=${TIER_CASSANDRA_HOSTS:-127.0.0.11,127.0.0.12,127.0.0.13}
KEYSPACE=${TIER_KEYSPACE:-user_management_tier}
DRAIN_DELAY=${TIER_DRAIN_DELAY:-3s}
SHIPPED="$ROOT_DIR/deploy/haproxy/haproxy.cfg"

log() { printf 'tier.sh: %s\n' "$*" >&2; }
die() { printf 'tier.sh: error: %s\n' "$*" >&2; exit 1; }

ensure_haproxy() { "$ROOT_DIR/scripts/need.sh" haproxy; }

# local_config prints the shipped configuration with the local topology: each
# substitution must match exactly once, so a change to the shipped file that
# this script does not know fails here instead of running something else.
local_config() {
  [ -f "$SHIPPED" ] || die "$SHIPPED is missing"
  local servers="" i=1 s
  for s in "${SERVERS[@]}"; do
    servers+="    server app$i $s"$'\n'
    i=$((i + 1))
  done
  awk -v listen="$LISTEN" -v stats="$STATS" -v errors="$ROOT_DIR/deploy/haproxy/errors" -v servers="$servers" '
    function hit(name) { seen[name]++ }
    # The Docker DNS resolver section goes: replicas have fixed addresses here.
    /^resolvers docker$/ { skip = 1; hit("resolvers"); next }
    skip && /^[^ \t]/ { skip = 0 }
    skip { next }
    /^[ \t]*bind :8000$/ { print "    bind " listen; hit("bind api"); next }
    /^[ \t]*bind :8404$/ { print "    bind " stats; hit("bind stats"); next }
    /^[ \t]*errorfile [0-9]+ \/usr\/local\/etc\/haproxy\/errors\// {
      sub(/\/usr\/local\/etc\/haproxy\/errors/, errors); print; hit("errorfile"); next }
    /^[ \t]*default-server .* resolvers docker resolve-prefer ipv4 init-addr none$/ {
      sub(/ resolvers docker resolve-prefer ipv4 init-addr none$/, ""); print; hit("default-server"); next }
    /^[ \t]*server-template app / {
      print "    # tier.sh: the local replicas instead of Docker DNS"; printf "%s", servers; hit("servers"); next }
    { print }
    END {
      want["resolvers"] = 1; want["bind api"] = 1; want["bind stats"] = 1
      want["errorfile"] = 3; want["default-server"] = 1; want["servers"] = 1
      for (k in want) if (seen[k] != want[k]) {
        printf "tier.sh: deploy/haproxy/haproxy.cfg changed: expected %d %s line(s), found %d\n", want[k], k, seen[k] > "/dev/stderr"
        bad = 1
      }
      exit bad
    }' "$SHIPPED"
}

pid_alive() {
  # Only a pid whose command line is still ours counts: pids get reused.
  local f=$1 want=$2 pid
  [ -f "$f" ] || return 1
  pid=$(cat "$f")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$want" && echo "$pid"
}

stop_pid() {
  local f=$1 want=$2 name=$3 pid i
  if ! pid=$(pid_alive "$f" "$want"); then rm -f "$f"; return 0; fi
  kill -TERM "$pid"
  for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.3; done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name (pid $pid) ignored SIGTERM for 30s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
  log "$name stopped (pid $pid)"
}

# wait_http waits until url answers 200 while pid (the process that should
# answer) lives, so a process of someone else's cannot pass for ours.
wait_http() {
  local url=$1 what=$2 pid=$3 logf=$4 i
  for i in $(seq 1 120); do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -20 "$logf" >&2 || true
      die "$what (pid $pid) exited during start-up (log: $logf)"
    fi
    if curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null; then return 0; fi
    sleep 0.5
  done
  die "$what: $url did not answer 200 within 60s (log: $logf)"
}

# port_free fails when something already listens on host:port.
port_free() {
  local addr=$1
  if (exec 3<>"/dev/tcp/${addr%:*}/${addr##*:}") 2>/dev/null; then
    die "$addr is in use by another process (set TIER_LISTEN, TIER_STATS or TIER_SERVERS)"
  fi
}

# haproxy_fd_args: the shipped maxconn (20000) needs about twice as many
# descriptors; Docker gets them from the compose file's ulimits. Where the
# hard limit is lower and cannot be raised, -n caps HAProxy's connections to
# what the limit allows instead of refusing to start.
haproxy_fd_args() {
  local hard maxconn
  hard=$(ulimit -Hn)
  maxconn=$(awk '$1 == "maxconn" { print $2; exit }' "$SHIPPED")
  [ "$hard" = unlimited ] && return 0
  if [ "$hard" -lt $((2 * maxconn + 100)) ]; then
    log "open-file limit $hard is below the $((2 * maxconn + 100)) that maxconn $maxconn needs: running haproxy -n $(((hard - 100) / 2))"
    echo "-n $(((hard - 100) / 2))"
  fi
}

cmd_up() {
  ensure_haproxy
  command -v curl >/dev/null || die "curl is needed to wait for readiness"
  mkdir -p "$TIER_DIR"
  (cd "$ROOT_DIR" && go build -o "$TIER_DIR/userapi" ./cmd/userapi) || die "building cmd/userapi failed"
  local i=1 s pid
  for s in "${SERVERS[@]}"; do
    if pid=$(pid_alive "$TIER_DIR/app$i.pid" "$TIER_DIR/userapi"); then
      log "replica app$i already running (pid $pid)"
    else
      port_free "$s"
      # setsid: a replica outlives this shell; we stop it by pid.
      setsid "$TIER_DIR/userapi" -listen "$s" -cassandra-hosts "$CASS_HOSTS" \
        -cassandra-keyspace "$KEYSPACE" -cassandra-replication-factor 3 -consistency LOCAL_QUORUM \
        -drain-delay "$DRAIN_DELAY" -log-format text -log-level warn \
        >"$TIER_DIR/app$i.log" 2>&1 </dev/null &
      pid=$!
      echo $pid >"$TIER_DIR/app$i.pid"
      log "replica app$i on $s (pid $pid)"
    fi
    wait_http "http://$s/ready" "replica app$i" "$pid" "$TIER_DIR/app$i.log"
    i=$((i + 1))
  done
  local_config >"$TIER_DIR/haproxy.cfg"
  haproxy -c -q -f "$TIER_DIR/haproxy.cfg" || die "haproxy rejects $TIER_DIR/haproxy.cfg"
  if pid=$(pid_alive "$TIER_DIR/haproxy.pid" haproxy); then
    log "haproxy already running (pid $pid)"
  else
    port_free "$LISTEN"; port_free "$STATS"
    # shellcheck disable=SC2046 # word splitting of the optional -n N
    setsid haproxy -db $(haproxy_fd_args) -f "$TIER_DIR/haproxy.cfg" >"$TIER_DIR/haproxy.log" 2>&1 </dev/null &
    pid=$!
    echo $pid >"$TIER_DIR/haproxy.pid"
    log "haproxy on $LISTEN, stats on http://$STATS/ (pid $pid)"
  fi
  wait_http "http://$LISTEN/ready" "haproxy" "$pid" "$TIER_DIR/haproxy.log"
  log "tier up: http://$LISTEN -> ${SERVERS[*]}"
}

cmd_down() {
  stop_pid "$TIER_DIR/haproxy.pid" haproxy haproxy
  local i
  for i in $(seq 1 "${#SERVERS[@]}"); do
    stop_pid "$TIER_DIR/app$i.pid" "$TIER_DIR/userapi" "replica app$i"
  done
}

cmd_status() {
  local rc=0 i pid
  if pid=$(pid_alive "$TIER_DIR/haproxy.pid" haproxy); then echo "haproxy: running (pid $pid) on $LISTEN"; else echo "haproxy: stopped"; rc=1; fi
  for i in $(seq 1 "${#SERVERS[@]}"); do
    if pid=$(pid_alive "$TIER_DIR/app$i.pid" "$TIER_DIR/userapi"); then echo "app$i: running (pid $pid) on ${SERVERS[$((i - 1))]}"; else echo "app$i: stopped"; rc=1; fi
  done
  # HAProxy's own view: server name, status (UP/DOWN/DRAIN), check result.
  curl -fsS --max-time 2 "http://$STATS/;csv" 2>/dev/null | awk -F, '$1 == "userapi" && $2 ~ /^app/ { print "haproxy sees " $2 ": " $18 }' || true
  return $rc
}

cmd=${1:-}
case "$cmd" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  config) local_config ;;
  install) ensure_haproxy; haproxy -v | head -1 ;;
  haproxy-args) haproxy_fd_args ;;
  *)
    sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'
    [ -z "$cmd" ] || [ "$cmd" = help ] || [ "$cmd" = -h ] || exit 2 ;;
esac
