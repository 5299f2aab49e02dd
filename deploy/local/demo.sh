#!/usr/bin/env bash
# `make demo`: play the source's year against the running system (make up) and print its oversight report.
#   deploy/local/demo.sh             play it (again: a replay changes nothing) and print the report
#   deploy/local/demo.sh --if-empty  load it only into a system with no data yet; `make up` calls this
#                                    unless TONGPIN_DEMO=0
# Other arguments go to deploy/demo/play.py (--seed N, --small, ...).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RUN="${TONGPIN_RUN_DIR:-$ROOT/.run}"
log() { printf '[demo] %s\n' "$*" >&2; }

if [[ " $* " == *" --if-empty "* ]] && [ "${TONGPIN_DEMO:-1}" = "0" ]; then
  log "TONGPIN_DEMO=0: no demo year"; exit 0
fi
if [ ! -f "$RUN/secrets.env" ]; then
  log "no $RUN/secrets.env: start the system first (make up)"; exit 1
fi
BASE="${TONGPIN_SERVICE_PORT_BASE:-8100}"
services=()
for entry in intake:1 triage:2 counselling:3 oversight:4; do
  port=$((BASE + ${entry##*:}))
  if ! curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then
    log "nothing ready on 127.0.0.1:$port: start the system first (make up)"; exit 1
  fi
  services+=("--${entry%%:*}" "http://127.0.0.1:$port")
done
eval "$("$ROOT/deploy/local/servers.sh" env)"
set -a; . "$RUN/secrets.env"; set +a
export TONGPIN_RUN_DIR="$RUN"
export TONGPIN_CLOCK_FILE="${TONGPIN_CLOCK_FILE:-$RUN/clock.json}"
start=$(date +%s.%N)
status=0
(cd "$ROOT" && uv run --no-sync python deploy/demo/play.py "${services[@]}" "$@") || status=$?
end=$(date +%s.%N)
awk -v s="$start" -v e="$end" 'BEGIN { printf "[demo] demo.sh took %.1f s\n", e - s }' >&2
exit $status
