#!/usr/bin/env bash
# check-docs.sh: the configuration tables in README.md and docs/configuration.md
# must list exactly the flags `userapi -help` prints, with the same variables
# and defaults, so docs and binary never drift.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(mktemp -d)/userapi
trap 'rm -rf "$(dirname "$bin")"' EXIT
go build -o "$bin" ./cmd/userapi

# "-flag|ENV|default" from -help: flag lines start with two spaces and a dash;
# the description line after it names "(env VAR)" and maybe "(default X)".
help=$("$bin" -help 2>&1 || true)
from_help=$(printf '%s\n' "$help" | awk '
  /^  -[a-z]/ { if (flag != "") print flag "|" env "|" def; flag=$1; env=""; def=""; next }
  flag != "" {
    if (match($0, /\(env [A-Z_]+\)/)) env=substr($0, RSTART+5, RLENGTH-6)
    if (match($0, /\(default [^)]*\)/)) { def=substr($0, RSTART+9, RLENGTH-10); gsub(/"/, "", def) }
  }
  END { if (flag != "") print flag "|" env "|" def }' | sort)

rc=0
for doc in README.md docs/configuration.md; do
  # Table rows: | `-flag` | `ENV` | `default` | ...
  from_doc=$(grep -E '^\| `-[a-z-]+` \|' "$doc" | awk -F'|' '{
      f=$2; e=$3; d=$4; gsub(/[ `]/, "", f); gsub(/[ `]/, "", e); gsub(/[ `]/, "", d)
      if (d == "empty" || d == "0") d = ""   # the flag package prints no zero default
      print f "|" e "|" d }' | sort)
  if [ "$from_help" != "$from_doc" ]; then
    echo "check-docs: $doc's configuration table differs from userapi -help (< help, > $doc):" >&2
    diff <(printf '%s\n' "$from_help") <(printf '%s\n' "$from_doc") >&2 || true
    rc=1
  fi
done
[ $rc = 0 ] && echo "check-docs: README.md and docs/configuration.md list exactly the $(printf '%s\n' "$from_help" | wc -l) flags of userapi -help"
exit $rc
