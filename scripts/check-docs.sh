#!/usr/bin/env bash
# check-docs.sh: docs and binary never drift.
#   - docs/configuration.md's table lists exactly the flags `userapi -help`
#     prints, with the same variables and defaults;
#   - README.md's table (the settings that matter most) lists some of them,
#     each with the same variable and default as -help;
#   - README.md stays a page a newcomer reads: at most 250 lines, with the
#     endpoints table within the first 80.
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

# Table rows: | `-flag` | `ENV` | `default` | ...
rows() {
  grep -E '^\| `-[a-z-]+` \|' "$1" | awk -F'|' '{
      f=$2; e=$3; d=$4; gsub(/[ `]/, "", f); gsub(/[ `]/, "", e); gsub(/[ `]/, "", d)
      if (d == "empty" || d == "0") d = ""   # the flag package prints no zero default
      print f "|" e "|" d }' | sort
}

rc=0
from_doc=$(rows docs/configuration.md)
if [ "$from_help" != "$from_doc" ]; then
  echo "check-docs: docs/configuration.md's table differs from userapi -help (< help, > doc):" >&2
  diff <(printf '%s\n' "$from_help") <(printf '%s\n' "$from_doc") >&2 || true
  rc=1
fi
extra=$(comm -13 <(printf '%s\n' "$from_help") <(rows README.md))
if [ -n "$extra" ]; then
  echo "check-docs: README.md's settings table has rows -help does not print (flag|variable|default):" >&2
  printf '  %s\n' $extra >&2
  rc=1
fi
lines=$(wc -l <README.md)
if [ "$lines" -gt 250 ]; then
  echo "check-docs: README.md has $lines lines; at most 250 (move detail to docs/)" >&2
  rc=1
fi
endpoints=$(grep -n '^## Endpoints' README.md | cut -d: -f1 || true)
if [ -z "$endpoints" ] || [ "$endpoints" -gt 80 ]; then
  echo "check-docs: README.md's '## Endpoints' must start within its first 80 lines (line ${endpoints:-none})" >&2
  rc=1
fi
[ $rc = 0 ] && echo "check-docs: docs/configuration.md lists exactly the $(printf '%s\n' "$from_help" | wc -l) flags of userapi -help; README.md ($lines lines) agrees with it"
exit $rc
