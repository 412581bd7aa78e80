#!/usr/bin/env bash
# check-tracked.sh: fails when source the build needs is not in git.
#
# A warm machine hides such gaps (a cached binary, a file .gitignore keeps out
# of commits); a fresh clone does not. Two checks:
#   1. no Go source, go.mod/go.sum, script or Makefile is ignored by .gitignore;
#   2. every package that the Makefile, scripts/ or .ci/ builds or runs
#      (a cmd/ or internal/ folder, say) has its Go files tracked by git.
# And the results policy (issue 24): bench/results/ holds evidence a document
# cites, not everything a run leaves:
#   3. only bench/results/RUN/{report.md,meta.json,results.json,*.svg} (one plot
#      format, no code, no raw runs), each RUN cited by README.md or docs/,
#      results.json trimmed (no "runs" or "samples"), 5 MB in all.
#      scripts/trim-results.sh reduces a new run to that.
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

budget=$((5 * 1024 * 1024))
size=0
declare -A runs=()
while IFS= read -r f; do
  path=${f#bench/results/}
  case "$path" in
    */*/*) ok=no ;;
    */report.md | */meta.json | */results.json | */*.svg) ok=yes ;;
    *) ok=no ;;
  esac
  if [ "$ok" = no ]; then
    echo "check-tracked: $f: bench/results/ keeps a run's report.md, meta.json, results.json and SVG plots, nothing else (scripts/trim-results.sh)"
    fail=1
    continue
  fi
  runs[${path%%/*}]=1
  [ -f "$f" ] || continue
  size=$((size + $(wc -c <"$f")))
  if [ "${f##*/}" = results.json ] && grep -qE '^  "(runs|samples)":' "$f"; then
    echo "check-tracked: $f is not trimmed (scripts/trim-results.sh ${f%/*})"
    fail=1
  fi
done < <(git ls-files bench/results)
for run in "${!runs[@]}"; do
  if ! grep -rqF "results/$run" README.md docs/; then
    echo "check-tracked: bench/results/$run is cited by neither README.md nor docs/: remove it (git rm -r) or cite it"
    fail=1
  fi
done
if [ "$size" -gt "$budget" ]; then
  echo "check-tracked: bench/results/ holds $size bytes in git, over its budget of $budget"
  fail=1
fi

if [ "$fail" = 0 ]; then
  echo "check-tracked: every built package is tracked; .gitignore hides no source; bench/results/ keeps cited runs only ($((size / 1024)) KiB of 5 MiB)"
fi
exit "$fail"
