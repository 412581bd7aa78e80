#!/usr/bin/env bash
# prereq-path.sh DIR: fill DIR with links to the tools a user is promised to
# have, and print a PATH made of DIR alone.
#
# The rule (README, "Prerequisites"): a test or `make` target runs only
#   - the base system: every program of a Debian package that is Essential or
#     of priority "required" (coreutils, bash, grep, sed, mawk, tar, ...);
#   - the prerequisites the README lists: Go, make, git, python3 and a C
#     compiler (go test -race builds with cgo);
#   - what a project script installs: Java and Maven (scripts/cassandra.sh),
#     and apt-get, with which the scripts install them.
# Anything else a developer happens to have (wrk, ab, haproxy, curl, docker,
# staticcheck, ...) is absent from DIR. .ci/run runs `make test` with this
# PATH, so a test that starts to need an unlisted tool fails in CI, not on a
# user's machine.
set -euo pipefail
dir=${1:?usage: scripts/prereq-path.sh DIR}
mkdir -p "$dir"
find "$dir" -mindepth 1 -maxdepth 1 -type l -delete

link() { # link NAME TARGET: the first link for a name wins
  [ -e "$dir/$1" ] || ln -s "$2" "$dir/$1"
}

# Named tools, resolved on the caller's PATH. python3 is resolved to the
# interpreter itself: a pyenv shim would need pyenv on the PATH.
need() {
  local p; p=$(command -v "$1") || { echo "prereq-path: $1 is a prerequisite but not installed" >&2; exit 1; }
  link "$1" "$p"
}
for t in go gofmt make git gcc cc; do need "$t"; done
link python3 "$(python3 -c 'import sys; print(sys.executable)')"
for t in java mvn apt-get; do
  if p=$(command -v "$t"); then link "$t" "$p"; fi
done

# Packages whose programs count as the base system, plus the C toolchain's
# own packages (gcc runs as and ld from the PATH).
pkgs=$(dpkg-query -W -f='${Package} ${Essential} ${Priority}\n' | awk '$2 == "yes" || $3 == "required" {print $1}')
for t in gcc as ld; do
  p=$(readlink -f "$(command -v "$t")")
  pkgs="$pkgs $(dpkg-query -S "$p" 2>/dev/null | cut -d: -f1 | tr ',' ' ')"
done
# Debian's /usr merge leaves /bin a link to /usr/bin; take every name once.
for f in $(dpkg-query -L $pkgs 2>/dev/null | grep -E '^(/usr)?/s?bin/[^/]+$' | sort -u); do
  if [ -x "$f" ] && [ ! -d "$f" ]; then link "$(basename "$f")" "$f"; fi
done
# Names that Debian's alternatives point at an allowed program (awk -> mawk).
allowed=$(for l in "$dir"/*; do readlink -f "$l"; done | sort -u)
for f in /usr/bin/*; do
  if [ -L "$f" ] && grep -qxF "$(readlink -f "$f")" <<<"$allowed"; then link "$(basename "$f")" "$f"; fi
done
echo "$dir"
