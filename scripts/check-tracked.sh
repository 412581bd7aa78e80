#!/usr/bin/env bash
# check-tracked.sh: fails when source the build needs is not in git.
#
# A warm machine hides such gaps (a cached binary, a file .gitignore keeps out
# of commits); a fresh clone does not. Two checks:
#   1. no Go source, go.mod/go.sum, script or Makefile is ignored by .gitignore;
#   2. every package that the Makefile, scripts/ or .ci/ builds or runs
#      (a cmd/ or internal/ folder, say) has its Go files tracked by git.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! git rev-parse --git-dir >/dev/null 2>&1; then
  echo "check-tracked: not a git checkout; nothing to compare"
  exit 0
fi
fail=0

ignored=$(git ls-files --others --ignored --exclude-standard -- '*.go' go.mod go.sum '*.sh' Makefile 'testdata/*')
if [ -n "$ignored" ]; then
  echo "check-tracked: .gitignore hides source files (anchor the pattern, e.g. /name):"
  printf '  %s\n' $ignored
  fail=1
fi

pkgs=$(cat Makefile scripts/*.sh .ci/run 2>/dev/null | grep -v '^[[:space:]]*#' |
  grep -oE '\./(cmd|internal|bench|engine|httpapi)(/[A-Za-z0-9_-]+)*' | sort -u)
for p in $pkgs; do
  if [ -z "$(git ls-files -- "$p/*.go")" ]; then
    echo "check-tracked: $p is built or run by the Makefile or a script but git tracks no Go file there"
    fail=1
  fi
done

if [ "$fail" = 0 ]; then
  echo "check-tracked: every built package is tracked; .gitignore hides no source"
fi
exit "$fail"
