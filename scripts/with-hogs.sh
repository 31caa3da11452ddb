#!/usr/bin/env bash
# Runs a command with two busy CPU hogs beside it, the way a loaded CI machine runs the suite:
# a test that passes only when it has the CPU to itself measures the clock, not behaviour.
#   bash scripts/with-hogs.sh npm test -- --fast --only sqlite
#   HOGS=4 bash scripts/with-hogs.sh npm test
# Exits with the command's status and prints how long it took. The hogs are this script's own
# children and are stopped (by pid) however the command ends.
set -uo pipefail
if [ "$#" -eq 0 ]; then
  echo "usage: $0 <command> [args…]" >&2
  exit 2
fi
hogs=()
stop_hogs() {
  for pid in "${hogs[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${hogs[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop_hogs EXIT
trap 'exit 130' INT TERM
for _ in $(seq 1 "${HOGS:-2}"); do
  # A pure busy loop: full CPU, no memory, no I/O.
  sh -c 'while :; do :; done' &
  hogs+=("$!")
done
echo "== with ${#hogs[@]} CPU hogs (pids ${hogs[*]}): $*" >&2
started=$(date +%s)
"$@"
status=$?
echo "== $* under ${#hogs[@]} CPU hogs: exit $status after $(( $(date +%s) - started )) s" >&2
exit "$status"
