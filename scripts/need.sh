#!/usr/bin/env bash
# need.sh COMMAND: make sure COMMAND is on the PATH, installing its Debian
# package with apt-get when run as root; otherwise fail with the exact
# command to run. How the project installs a tool the README does not list
# as a prerequisite; the tools it may install, and who needs each:
#   haproxy  scripts/tier.sh (the replicas' balancer in make tier-up and the drills)
#   wrk      make bench (the calibration of loadgen against wrk -t1)
set -euo pipefail
cmd=${1:?usage: scripts/need.sh haproxy|wrk}
case $cmd in
  haproxy) pkg=haproxy ;;
  wrk) pkg=wrk ;;
  *) echo "need.sh: error: $cmd is not a tool this project installs (haproxy, wrk)" >&2; exit 2 ;;
esac
command -v "$cmd" >/dev/null && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "need.sh: installing $pkg with apt-get" >&2
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null 2>&1; then
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null ||
      { echo "need.sh: error: apt-get install $pkg failed" >&2; exit 1; }
  fi
  command -v "$cmd" >/dev/null || { echo "need.sh: error: $cmd not on PATH after apt-get install $pkg" >&2; exit 1; }
else
  echo "need.sh: error: missing $cmd: run: sudo apt-get install -y $pkg" >&2
  exit 1
fi
