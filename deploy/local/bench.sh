#!/usr/bin/env bash
# `make bench`: start the local servers if needed, then measure. Never fails for being slow.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
if ! command -v wrk >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null
fi
if [ -z "${MONGODB_URL:-}" ] || [ -z "${AMQP_URL:-}" ]; then
  "$ROOT/deploy/local/servers.sh" start
  eval "$("$ROOT/deploy/local/servers.sh" env)"
fi
uv run --no-sync python bench/run.py "$@"
