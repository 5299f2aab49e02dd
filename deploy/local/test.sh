#!/usr/bin/env bash
# `make test`: lint, then the whole pytest suite against real servers. Uses MONGODB_URL/AMQP_URL when
# set; else testcontainers when a Docker engine runs; else starts FerretDB and RabbitMQ locally and
# stops them afterwards if it was the one that started them.
#
# Without arguments tests/browser runs from a private copy of this checkout (tracked and untracked files,
# uncommitted changes included) in a folder only its owner may enter, as a clone under /root or in
# `mktemp -d` is: the console's nginx and anything else run as another user must cope with that. Every
# other test runs here, against the same servers. With arguments, pytest runs just those, here.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
log() { printf '[test] %s\n' "$*" >&2; }

"$ROOT/deploy/local/install-deps.sh"

log "ruff"; uv run --no-sync ruff check .
log "mypy"; uv run --no-sync mypy shared/src services/*/src
log "import contracts"; uv run --no-sync lint-imports --no-logo --no-cache

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

# pytest in folder $1 with the remaining arguments; its status, with "no tests collected" a failure.
run_pytest() {
  local dir=$1 status=0
  shift
  (cd "$dir" && uv run --no-sync pytest -p no:cacheprovider "$@") || status=$?
  if [ $status -eq 5 ]; then log "pytest collected no tests"; status=1; fi
  return $status
}

# A copy of this checkout's files (what git tracks or would track) in folder $1.
copy_checkout() {
  mkdir -p "$1"
  if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git -C "$ROOT" ls-files -z --cached --others --exclude-standard \
      | (cd "$ROOT" && while IFS= read -r -d '' f; do
           if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi
         done | tar --null -T - -cf -) | tar -xf - -C "$1"
  else
    tar -C "$ROOT" --exclude=./.venv --exclude=./.run --exclude=./test-artifacts -cf - . | tar -xf - -C "$1"
  fi
}

mkdir -p "$ROOT/test-artifacts"
if [ $# -gt 0 ]; then
  run_pytest "$ROOT" "$@"
  exit
fi

status=0
began=$(date +%s)
log "every tier but tests/browser, here"
run_pytest "$ROOT" --ignore=tests/browser || status=$?
log "done in $(($(date +%s) - began))s"

began=$(date +%s)
private="$(mktemp -d)"
chmod 700 "$private"
trap 'rm -rf "$private"; cleanup' EXIT
log "tests/browser, from a copy of this checkout in $private (mode 700)"
copy_checkout "$private/tongpin"
(cd "$private/tongpin" && uv sync --all-packages --frozen -q)
# Triage's packaged model is built at install (ignored by git): the copy takes the one built here.
cp -a "$ROOT/services/triage/src/tongpin/triage/models" "$private/tongpin/services/triage/src/tongpin/triage/"
log "copied and synced in $(($(date +%s) - began))s"
run_pytest "$private/tongpin" tests/browser || status=$?
# This run's screenshots replace the last run's (the browser tier clears its own folder as it starts).
rm -rf "$ROOT/test-artifacts/screenshots"
cp -a "$private/tongpin/test-artifacts/." "$ROOT/test-artifacts/" 2>/dev/null || true
log "done in $(($(date +%s) - began))s"
exit $status
