#!/usr/bin/env bash
# Installs what the project needs on a clean Debian machine: system packages, uv, the Python workspace,
# and the FerretDB build. Idempotent and quick when everything is already there.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
log() { printf '[install] %s\n' "$*" >&2; }

# Debian packages: the broker, the reverse proxy, the engine-less compose validator, the browser and a CJK font.
PACKAGES=(rabbitmq-server nginx docker-compose chromium fonts-wqy-microhei curl)
missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    log "missing Debian packages: ${missing[*]} (run as root, or install them: apt-get install ${missing[*]})"; exit 1
  fi
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v uv >/dev/null 2>&1; then
  log "installing uv"
  python3 -m pip install -q "uv==0.13.9"
fi

# Bytecode is compiled at install (later syncs compile only what changed): a test run or a service start
# then loads it instead of compiling every module it imports, which also holds where
# PYTHONDONTWRITEBYTECODE keeps Python from caching it (seconds of every `make test`'s unit tier).
log "syncing the Python workspace"
(cd "$ROOT" && uv sync --all-packages --frozen -q --compile-bytecode)

# Triage's packaged model is built here from the labelled corpus the repository ships (seconds;
# skipped when the corpus and the training code are unchanged since the last build).
(cd "$ROOT" && uv run --no-sync python -m tongpin.triage.train --if-stale >&2)

"$ROOT/deploy/local/servers.sh" install
