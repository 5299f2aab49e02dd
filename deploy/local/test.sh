#!/usr/bin/env bash
# `make test`: lint, then the whole pytest suite against real servers. Uses MONGODB_URL/AMQP_URL when
# set; else testcontainers when a Docker engine runs; else starts FerretDB and RabbitMQ locally and
# stops them afterwards if it was the one that started them.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
log() { printf '[test] %s\n' "$*" >&2; }

"$ROOT/deploy/local/install-deps.sh"

log "ruff"; uv run --no-sync ruff check .
log "mypy"; uv run --no-sync mypy shared/src services/*/src

started=""
if [ -z "${MONGODB_URL:-}" ] || [ -z "${AMQP_URL:-}" ]; then
  if docker info >/dev/null 2>&1; then
    log "Docker engine found: testcontainers will start MongoDB and RabbitMQ"
  else
    state="$("$ROOT/deploy/local/servers.sh" status)"
    if [[ "$state" != *"rabbitmq: running"* || "$state" != *"ferretdb: running"* ]]; then
      started=yes
    fi
    "$ROOT/deploy/local/servers.sh" start
    eval "$("$ROOT/deploy/local/servers.sh" env)"
  fi
fi
cleanup() { if [ -n "$started" ]; then "$ROOT/deploy/local/servers.sh" stop; fi; }
trap cleanup EXIT

mkdir -p "$ROOT/test-artifacts"
set +e
uv run --no-sync pytest -p no:cacheprovider "$@"
status=$?
set -e
if [ $status -eq 5 ]; then log "pytest collected no tests"; exit 1; fi
exit $status
