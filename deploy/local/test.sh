#!/usr/bin/env bash
# `make test`: lint, then every tier, each its own pytest run with its own time:
#   1. the unit tier (shared/tests/unit, services/*/tests/unit): no servers, seconds;
#   2. the corpus tier (services/triage/tests/corpus): trains triage models on the labelled corpus, scores
#      the packaged one and classifies every message; no servers, tens of seconds;
#   3. every other tier but tests/browser (integration, e2e, contract, fuzz) against real servers;
#   4. tests/browser.
# Servers: MONGODB_URL/AMQP_URL when set; else testcontainers when a Docker engine runs; else FerretDB and
# RabbitMQ started locally (and stopped afterwards if this script started them).
#
# tests/browser runs from a private copy of this checkout (tracked and untracked files, uncommitted changes
# included) in a folder only its owner may enter, as a clone under /root or in `mktemp -d` is: the console's
# nginx and anything else run as another user must cope with that. Every other tier runs here.
# With arguments, pytest runs just those, here, against the servers. `test.sh --unit` (`make unit`) runs
# the unit tier alone, without installing the servers or linting.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
log() { printf '[test] %s\n' "$*" >&2; }

UNIT_TIER=(shared/tests/unit services/*/tests/unit)
CORPUS_TIER=(services/triage/tests/corpus)

# pytest in folder $1 with the remaining arguments; its status, with "no tests collected" a failure.
run_pytest() {
  local dir=$1 status=0
  shift
  (cd "$dir" && uv run --no-sync pytest -p no:cacheprovider "$@") || status=$?
  if [ $status -eq 5 ]; then log "pytest collected no tests"; status=1; fi
  return $status
}

# One tier here, $1 its name, the rest pytest's arguments; its status, and its wall time on its own line.
run_tier() {
  local name=$1 status=0 began
  shift
  began=$(date +%s)
  log "$name"
  run_pytest "$ROOT" "$@" || status=$?
  log "$name done in $(($(date +%s) - began))s"
  return $status
}

if [ "${1:-}" = "--unit" ]; then
  shift
  (cd "$ROOT" && uv sync --all-packages --frozen -q --compile-bytecode)
  run_tier "unit tier" "${UNIT_TIER[@]}" "$@"
  exit
fi

"$ROOT/deploy/local/install-deps.sh"

log "ruff"; uv run --no-sync ruff check .
log "mypy"; uv run --no-sync mypy shared/src services/*/src
log "import contracts"; uv run --no-sync lint-imports --no-logo --no-cache

status=0
if [ $# -eq 0 ]; then
  # Neither tier needs a server: they run before any is started.
  run_tier "unit tier" "${UNIT_TIER[@]}" || status=$?
  run_tier "corpus tier" "${CORPUS_TIER[@]}" || status=$?
fi

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

others=(--ignore=tests/browser)
for dir in "${UNIT_TIER[@]}" "${CORPUS_TIER[@]}"; do others+=("--ignore=$dir"); done
run_tier "every other tier but tests/browser, against the servers" "${others[@]}" || status=$?

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
log "tests/browser done in $(($(date +%s) - began))s"
exit $status
