#!/usr/bin/env bash
# `make chaos`: concerns keep arriving while each service is SIGKILLed and restarted, RabbitMQ restarts and
# FerretDB is killed; then every stage is counted exactly. Uses (and restarts) this checkout's local servers.
#   deploy/local/chaos.sh [--concerns 600] [--rate 3] [--settle 300]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
"$ROOT/deploy/local/servers.sh" start
eval "$("$ROOT/deploy/local/servers.sh" env)"
exec uv run --no-sync python -m tongpin.shared.testing.chaos "$@"
