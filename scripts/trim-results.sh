#!/usr/bin/env bash
# trim-results.sh DIR...: reduce run directories under bench/results/ to what
# git keeps (the policy scripts/check-tracked.sh enforces): report.md,
# meta.json, results.json without its bulky raw parts (a suite's "runs", a
# soak's "samples": report.md has their tables) and the SVG plots. Runs/,
# logs/, pprof/, PNG copies and id samples stay on the machine that made them.
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: scripts/trim-results.sh bench/results/RUN..." >&2; exit 2; }
for dir in "$@"; do
  [ -f "$dir/report.md" ] || { echo "trim-results: $dir has no report.md" >&2; exit 1; }
  find "$dir" -mindepth 1 -maxdepth 1 -type d -exec rm -rf {} +
  find "$dir" -maxdepth 1 -type f ! -name report.md ! -name meta.json ! -name results.json ! -name '*.svg' -delete
  if [ -f "$dir/results.json" ]; then
    python3 - "$dir/results.json" <<'PY'
import json, sys
path = sys.argv[1]
with open(path) as f:
    doc = json.load(f)
for key in ("runs", "samples"):
    doc.pop(key, None)
with open(path, "w") as f:
    json.dump(doc, f, indent=2, ensure_ascii=False)
    f.write("\n")
PY
  fi
  echo "trim-results: $dir: $(du -sh "$dir" | cut -f1)"
done
