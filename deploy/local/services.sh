#!/usr/bin/env bash
# The four services as local processes for `make up`: start|stop|status. Logs and pids live in .run/.
# They listen on TONGPIN_SERVICE_PORT_BASE (8100) + 1..4: intake, triage, counselling, oversight.
# TONGPIN_CLOCK_FILE (.run/clock.json): the demo's simulated clock, read by the services while it exists.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RUN="${TONGPIN_RUN_DIR:-$ROOT/.run}"
BASE="${TONGPIN_SERVICE_PORT_BASE:-8100}"
SERVICES=(intake:$((BASE + 1)) triage:$((BASE + 2)) counselling:$((BASE + 3)) oversight:$((BASE + 4)))
log() { printf '[services] %s\n' "$*" >&2; }

running() { [ -f "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

secrets() {
  # Development secrets, made once per checkout and never committed.
  local file="$RUN/secrets.env"
  if [ ! -f "$file" ]; then
    (cd "$ROOT" && uv run --no-sync python -m tongpin.shared.devsecrets >"$file")
    chmod 600 "$file"
  fi
  echo "$file"
}

start() {
  mkdir -p "$RUN/logs"
  eval "$("$ROOT/deploy/local/servers.sh" env)"
  set -a; . "$(secrets)"; set +a
  export TONGPIN_JWKS_URL="http://127.0.0.1:$((BASE + 3))/auth/jwks"
  # The console's nginx runs on this machine and names the client in X-Forwarded-For; the services
  # listen on 127.0.0.1 only, so nothing else local is a stranger to trust.
  export TONGPIN_TRUSTED_PROXIES='["127.0.0.1"]'
  # Business time comes from this file while a demo plays a past year, else from the real clock.
  export TONGPIN_CLOCK_FILE="${TONGPIN_CLOCK_FILE:-$RUN/clock.json}"
  rm -f "$TONGPIN_CLOCK_FILE"
  for entry in "${SERVICES[@]}"; do
    name=${entry%%:*}; port=${entry##*:}
    if running "$name"; then log "$name already running"; continue; fi
    # exec, so the recorded pid is the service's own process and `stop` ends exactly it.
    (cd "$ROOT" && TONGPIN_PORT=$port exec nohup "$ROOT/.venv/bin/python" -m "tongpin.$name" \
      >>"$RUN/logs/$name.log" 2>&1) &
    echo $! >"$RUN/$name.pid"
  done
  for entry in "${SERVICES[@]}"; do
    name=${entry%%:*}; port=${entry##*:}
    for _ in $(seq 1 150); do
      if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then break; fi
      if ! running "$name"; then log "$name exited; see $RUN/logs/$name.log"; tail -20 "$RUN/logs/$name.log" >&2; exit 1; fi
      sleep 0.2
    done
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null || { log "$name not ready; see $RUN/logs/$name.log"; exit 1; }
  done
}

stop() {
  for entry in "${SERVICES[@]}"; do
    name=${entry%%:*}
    if running "$name"; then
      log "stopping $name"
      kill "$(cat "$RUN/$name.pid")" || true
      for _ in $(seq 1 50); do running "$name" || break; sleep 0.1; done
      running "$name" && kill -9 "$(cat "$RUN/$name.pid")" || true
    fi
    rm -f "$RUN/$name.pid"
  done
}

status() {
  for entry in "${SERVICES[@]}"; do
    name=${entry%%:*}; port=${entry##*:}
    if running "$name"; then echo "$name: running on http://127.0.0.1:$port (pid $(cat "$RUN/$name.pid"))"
    else echo "$name: stopped"; fi
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
