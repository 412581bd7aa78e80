#!/usr/bin/env bash
# need.sh COMMAND [PACKAGE]: make sure COMMAND is on the PATH, installing
# Debian's PACKAGE (default: COMMAND) with apt-get when run as root;
# otherwise fail with the exact command to run. How the project's scripts
# install a tool the README does not list as a prerequisite (haproxy for the
# tier, wrk for make bench's calibration).
set -euo pipefail
cmd=${1:?usage: scripts/need.sh COMMAND [PACKAGE]}
pkg=${2:-$cmd}
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
