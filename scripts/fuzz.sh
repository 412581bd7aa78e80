#!/usr/bin/env bash
# fuzz.sh TIME PKG...: run every fuzz target of each package for TIME
# (go test runs one target per invocation).
#
# A real finding makes go test write the failing input under
# PKG/testdata/fuzz/TARGET/: that fails the run, with the output. A failure
# that leaves no input is the fuzzing engine's own (seen once in CI on a
# loaded machine: FAIL and no input, then four passing reruns); the output is
# shown and the target runs once more, and fails the run only if it fails
# again.
set -euo pipefail
cd "$(dirname "$0")/.."
time=$1; shift
GO=${GO:-go}
out=$(mktemp); trap 'rm -f "$out"' EXIT

inputs() { git ls-files --others --exclude-standard -- "$1/testdata/fuzz/$2" 2>/dev/null | sort; }

for pkg in "$@"; do
  for target in $($GO test -list '^Fuzz' "$pkg" | grep '^Fuzz'); do
    for attempt in 1 2; do
      echo "fuzz $pkg $target ($time)"
      before=$(inputs "$pkg" "$target")
      if $GO test -run XXX -fuzz "^$target\$" -fuzztime "$time" "$pkg" >"$out" 2>&1; then
        grep -E 'execs|^ok' "$out" | tail -2
        break
      fi
      tail -20 "$out"
      after=$(inputs "$pkg" "$target")
      if [ "$before" != "$after" ]; then
        echo "fuzz: $target found a failing input (new file under $pkg/testdata/fuzz/$target)" >&2
        exit 1
      fi
      if [ "$attempt" = 2 ]; then
        echo "fuzz: $target failed twice without a failing input" >&2
        exit 1
      fi
      echo "fuzz: $target failed without a failing input (the fuzzing engine's own failure); once more"
    done
  done
done
