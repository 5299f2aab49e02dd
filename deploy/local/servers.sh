#!/usr/bin/env bash
# Local servers for development and CI: Debian's RabbitMQ, and FerretDB v1.24 on Debian's PostgreSQL,
# installed if missing and run from the project's ignored runtime folder (.run/).
# Usage: servers.sh install|start|stop|status|env
#
# FerretDB's PostgreSQL backend, not SQLite: under concurrent writers the SQLite backend answers
# "database is locked (SQLITE_BUSY)" and scans a collection for every non-_id query, while on
# PostgreSQL equality filters are pushed down and concurrent writes simply queue.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RUN="${TONGPIN_RUN_DIR:-$ROOT/.run}"
MONGO_PORT="${TONGPIN_MONGO_PORT:-27017}"
AMQP_PORT="${TONGPIN_AMQP_PORT:-5672}"
RABBIT_DIR="$RUN/rabbitmq"
PG_DIR="$RUN/postgres"
# PostgreSQL runs as the postgres user; when the checkout sits where that user cannot reach (say under
# /root), its data lives in the postgres user's own home instead, one folder per checkout.
if [ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1 && ! runuser -u postgres -- test -x "$ROOT" 2>/dev/null; then
  PG_DIR="/var/lib/postgresql/tongpin-$(printf '%s' "$ROOT" | md5sum | cut -c1-12)"
fi
PG_PORT="${TONGPIN_PG_PORT:-54329}"
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
FERRET_BIN="$RUN/bin/tongpin-ferretdb"
FERRET_UNANSWERED="${TONGPIN_FERRETDB_EXIT_UNANSWERED:-60s}"
RABBIT_NODE="tongpin${AMQP_PORT}@localhost"

log() { printf '[servers] %s\n' "$*" >&2; }

rabbit_env() {
  export HOME="$RABBIT_DIR" RABBITMQ_NODENAME="$RABBIT_NODE" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
    RABBITMQ_NODE_PORT="$AMQP_PORT" RABBITMQ_DIST_PORT=$((AMQP_PORT + 20000)) \
    RABBITMQ_MNESIA_BASE="$RABBIT_DIR/mnesia" RABBITMQ_LOG_BASE="$RABBIT_DIR/log" \
    RABBITMQ_PID_FILE="$RABBIT_DIR/rabbit.pid" RABBITMQ_ENABLED_PLUGINS_FILE="$RABBIT_DIR/enabled_plugins" \
    RABBITMQ_CONFIG_FILE="$RABBIT_DIR/rabbitmq"
}

install() {
  if [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || [ -z "$PG_BIN" ]; then
    log "installing Debian's rabbitmq-server and postgresql"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends rabbitmq-server postgresql >/dev/null
    PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
  fi
  if [ ! -x "$FERRET_BIN" ] || [ -n "$(find "$ROOT/deploy/local/ferretdb" -newer "$FERRET_BIN" -type f)" ]; then
    log "building FerretDB v1.24.2 (embedded) with $(go version | cut -d' ' -f3)"
    mkdir -p "$RUN/bin"
    (cd "$ROOT/deploy/local/ferretdb" && GOFLAGS=-mod=mod go build -trimpath -o "$FERRET_BIN" .)
  fi
}

wait_port() {
  local port=$1 name=$2
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  log "$name did not open port $port"; return 1
}

# PostgreSQL refuses to run as root: as root, its files belong to the postgres user.
as_pg() { if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi; }

pg_running() { [ -f "$PG_DIR/data/postmaster.pid" ] && as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" status >/dev/null 2>&1; }

start_postgres() {
  if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$ROOT" 2>/dev/null; then
    PG_DIR="/var/lib/postgresql/tongpin-$(printf '%s' "$ROOT" | md5sum | cut -c1-12)"
  fi
  mkdir -p "$PG_DIR"
  [ "$(id -u)" = 0 ] && chown postgres "$PG_DIR"
  if [ ! -f "$PG_DIR/data/PG_VERSION" ]; then
    log "initialising PostgreSQL in $PG_DIR"
    as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust -U tongpin -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if ! pg_running; then
    log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    # FerretDB stores each document as one jsonb value and filters by scanning, which decompresses every
    # document over ~2 kB (a triage decision, a case) for every find: lz4 decompresses it several times faster
    # than the default pglz. Only where PostgreSQL was built with lz4.
    local toast=""
    if "$PG_BIN/pg_config" --configure 2>/dev/null | grep -q -- "--with-lz4"; then
      toast="-c default_toast_compression=lz4"
    fi
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -w \
      -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=on $toast" start >/dev/null
    as_pg "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U tongpin -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname='ferretdb'" | grep -q 1 || \
      as_pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U tongpin ferretdb
  fi
  # GIN twins of FerretDB's indexes and the planner settings that let them serve its filters (see the file).
  as_pg "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U tongpin -d ferretdb -q -v ON_ERROR_STOP=1 \
    <"$ROOT/deploy/local/ferretdb-gin.sql" >/dev/null
}

start() {
  install
  mkdir -p "$RABBIT_DIR" "$RUN/logs"
  start_postgres
  if ! ferret_running; then
    log "starting FerretDB on 127.0.0.1:$MONGO_PORT (PostgreSQL backend)"
    # FerretDB exits with status 3 when its own probes go unanswered for FERRET_UNANSWERED
    # (deploy/local/ferretdb/watchdog.go): then it is started again. Any other end (stop, a kill) is final.
    rm -f "$RUN/ferretdb.pid"
    (
      trap '' HUP
      while :; do
        nohup "$FERRET_BIN" --listen-addr "127.0.0.1:$MONGO_PORT" --handler postgresql --log-level error \
          --postgresql-url "postgres://tongpin@127.0.0.1:$PG_PORT/ferretdb" --exit-unanswered "$FERRET_UNANSWERED" \
          ${TONGPIN_FERRETDB_DEBUG_ADDR:+--debug-addr "$TONGPIN_FERRETDB_DEBUG_ADDR"} >>"$RUN/logs/ferretdb.log" 2>&1 &
        echo $! >"$RUN/ferretdb.pid"
        rc=0; wait $! || rc=$?
        [ "$rc" -eq 3 ] || break
        echo "[servers] FerretDB stopped answering; starting it again" >>"$RUN/logs/ferretdb.log"
      done
    ) </dev/null >/dev/null 2>&1 &
    for _ in $(seq 1 50); do [ -s "$RUN/ferretdb.pid" ] && break; sleep 0.1; done
    wait_port "$MONGO_PORT" FerretDB
  fi
  if ! rabbit_running; then
    log "starting RabbitMQ on 127.0.0.1:$AMQP_PORT"
    (rabbit_env; cd "$RABBIT_DIR"; \
      [ -f "$RABBIT_DIR/enabled_plugins" ] || echo '[].' >"$RABBIT_DIR/enabled_plugins"; \
      /usr/lib/rabbitmq/bin/rabbitmq-server -detached >/dev/null 2>&1; \
      /usr/lib/rabbitmq/bin/rabbitmqctl wait --timeout 120 "$RABBIT_DIR/rabbit.pid" >/dev/null)
  fi
  log "ready: MONGODB_URL=$(mongo_url) AMQP_URL=$(amqp_url)"
}

ferret_running() { [ -f "$RUN/ferretdb.pid" ] && kill -0 "$(cat "$RUN/ferretdb.pid")" 2>/dev/null; }
rabbit_running() { [ -f "$RABBIT_DIR/rabbit.pid" ] && kill -0 "$(cat "$RABBIT_DIR/rabbit.pid")" 2>/dev/null; }

stop() {
  if rabbit_running; then
    log "stopping RabbitMQ"
    (rabbit_env; timeout 60 /usr/lib/rabbitmq/bin/rabbitmqctl stop "$RABBIT_DIR/rabbit.pid" >/dev/null 2>&1 || \
      kill "$(cat "$RABBIT_DIR/rabbit.pid")")
  fi
  rm -f "$RABBIT_DIR/rabbit.pid"
  if ferret_running; then
    log "stopping FerretDB"
    pid="$(cat "$RUN/ferretdb.pid")"
    kill "$pid" || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$RUN/ferretdb.pid"
  if pg_running; then
    log "stopping PostgreSQL"
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast stop >/dev/null || true
  fi
}

rabbitmqctl() { (rabbit_env; /usr/lib/rabbitmq/bin/rabbitmqctl "$@"); }

mongo_url() { echo "mongodb://127.0.0.1:$MONGO_PORT/"; }
amqp_url() { echo "amqp://guest:guest@127.0.0.1:$AMQP_PORT/"; }

status() {
  ferret_running && echo "ferretdb: running (pid $(cat "$RUN/ferretdb.pid"))" || echo "ferretdb: stopped"
  pg_running && echo "postgresql: running (port $PG_PORT)" || echo "postgresql: stopped"
  rabbit_running && echo "rabbitmq: running (pid $(cat "$RABBIT_DIR/rabbit.pid"))" || echo "rabbitmq: stopped"
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  env) echo "export MONGODB_URL=$(mongo_url) AMQP_URL=$(amqp_url)" ;;
  rabbitmqctl) shift; rabbitmqctl "$@" ;;
  *) echo "usage: $0 install|start|stop|status|env|rabbitmqctl ARGS" >&2; exit 2 ;;
esac
