#!/usr/bin/env bash
# The staff console for `make up`: Debian's nginx serving web/ and proxying /api/<service>/ to the local
# services, with the very server block compose uses (deploy/nginx/tongpin.conf). Only the lines marked
# `# tongpin:local` there are rewritten: upstream addresses, listen address and document root.
# Its own prefix, pid, config and logs live under .run/nginx/, so it never touches a system nginx.
# Its workers run as the user who starts it, root included (nginx's own default would be `nobody`): they
# read web/ and spool request bodies under .run/nginx/tmp/, and a checkout may sit in a folder no one
# else can enter (/root, `mktemp -d`). `start` fetches the console once before it says it is running.
#
# Usage: web.sh start|stop|status|render|check
#   TONGPIN_WEB_PORT (8080), TONGPIN_WEB_HOST (127.0.0.1)    where the console listens
#   TONGPIN_WEB_ROOT (<checkout>/web)                         the static files
#   TONGPIN_UPSTREAM_INTAKE|TRIAGE|COUNSELLING|OVERSIGHT      host:port of each service (127.0.0.1:8101..8104,
#                                                             or TONGPIN_SERVICE_PORT_BASE + 1..4)
#   TONGPIN_NGINX_DIR (.run/nginx)                            prefix, pid, rendered config, logs
#   TONGPIN_NGINX_USER (the invoking user)                    the workers' user when root starts nginx
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RUN="${TONGPIN_RUN_DIR:-$ROOT/.run}"
DIR="${TONGPIN_NGINX_DIR:-$RUN/nginx}"
PORT="${TONGPIN_WEB_PORT:-8080}"
HOST="${TONGPIN_WEB_HOST:-127.0.0.1}"
WEB_ROOT="${TONGPIN_WEB_ROOT:-$ROOT/web}"
SERVER_CONF="$ROOT/deploy/nginx/tongpin.conf"
NGINX="${TONGPIN_NGINX_BIN:-/usr/sbin/nginx}"
WORKER_USER="${TONGPIN_NGINX_USER:-$(id -un)}"
BASE="${TONGPIN_SERVICE_PORT_BASE:-8100}"
log() { printf '[web] %s\n' "$*" >&2; }

upstream() {
  local name=$1 default=$2 var
  var="TONGPIN_UPSTREAM_${name^^}"
  echo "${!var:-$default}"
}

render() {
  mkdir -p "$DIR/conf" "$DIR/logs" "$DIR/tmp"
  local web_root
  web_root="$(cd "$WEB_ROOT" && pwd)"
  sed -E \
    -e "s|^(\s*)server intake:8101;.*# tongpin:local.*$|\1server $(upstream intake 127.0.0.1:$((BASE + 1)));|" \
    -e "s|^(\s*)server triage:8102;.*# tongpin:local.*$|\1server $(upstream triage 127.0.0.1:$((BASE + 2)));|" \
    -e "s|^(\s*)server counselling:8103;.*# tongpin:local.*$|\1server $(upstream counselling 127.0.0.1:$((BASE + 3)));|" \
    -e "s|^(\s*)server oversight:8104;.*# tongpin:local.*$|\1server $(upstream oversight 127.0.0.1:$((BASE + 4)));|" \
    -e "s|^(\s*)listen 8080;.*# tongpin:local.*$|\1listen $HOST:$PORT;|" \
    -e "s|^(\s*)root /usr/share/nginx/html;.*# tongpin:local.*$|\1root $web_root;|" \
    "$SERVER_CONF" >"$DIR/conf/tongpin.conf"
  if grep -qE '^\s*[^#[:space:]].*# tongpin:local' "$DIR/conf/tongpin.conf"; then
    log "a line marked tongpin:local in $SERVER_CONF was not rewritten:"
    grep -nE '^\s*[^#[:space:]].*# tongpin:local' "$DIR/conf/tongpin.conf" >&2
    return 1
  fi
  # Only a master running as root can choose its workers' user; otherwise they run as the master does.
  local user_line=""
  if [ "$(id -u)" = 0 ]; then user_line="user $WORKER_USER $(id -gn "$WORKER_USER");"; fi
  # The main file mirrors what nginx:1.27-alpine wraps around conf.d/default.conf, but for the user.
  cat >"$DIR/conf/nginx.conf" <<CONF
$user_line
worker_processes 1;
pid $DIR/nginx.pid;
error_log $DIR/logs/error.log warn;
events { worker_connections 512; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    keepalive_timeout 65;
    access_log $DIR/logs/access.log;
    client_body_temp_path $DIR/tmp/client_body;
    proxy_temp_path $DIR/tmp/proxy;
    fastcgi_temp_path $DIR/tmp/fastcgi;
    uwsgi_temp_path $DIR/tmp/uwsgi;
    scgi_temp_path $DIR/tmp/scgi;
    include $DIR/conf/tongpin.conf;
}
CONF
}

nginx_cmd() { "$NGINX" -p "$DIR/" -e "$DIR/logs/error.log" -c "$DIR/conf/nginx.conf" "$@"; }

running() { [ -f "$DIR/nginx.pid" ] && kill -0 "$(cat "$DIR/nginx.pid")" 2>/dev/null; }

check() { render && nginx_cmd -t -q; }

# The errors nginx logged since byte $1 of its error log, each once, without the request details.
errors_since() {
  tail -c +"$(($1 + 1))" "$DIR/logs/error.log" 2>/dev/null \
    | sed -nE 's/^.*\[(emerg|alert|crit|error)\] [0-9]+#[0-9]+: (\*[0-9]+ )?//p' \
    | sed -E 's/, client: .*$//' | awk '!seen[$0]++' | head -5
}

# Fetch the console's index page through nginx; on failure say why, stop nginx and fail.
serves_console() {
  local web_root=$1 logged=$2 code probe_host=$HOST
  [ "$probe_host" = 0.0.0.0 ] && probe_host=127.0.0.1
  code="$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 "http://$probe_host:$PORT/" 2>/dev/null)" || true
  if [ "$code" = 200 ]; then
    # Request bodies beyond 16 KB are spooled to tmp/ by the workers before they are proxied.
    if [ "$(id -u)" = 0 ] && ! (cd / && runuser -u "$WORKER_USER" -- test -w "$DIR/tmp/client_body") 2>/dev/null; then
      log "the console cannot take requests over 16 KB: nginx's workers ($WORKER_USER) cannot write $DIR/tmp/"
    else
      return 0
    fi
  else
    log "the console cannot serve its files from $web_root: GET / answered ${code:-nothing}"
    errors_since "$logged" | sed 's/^/[web]   /' >&2
  fi
  if [ "$(id -u)" = 0 ] && [ "$WORKER_USER" != "$(id -un)" ]; then
    log "nginx's workers run as $WORKER_USER (TONGPIN_NGINX_USER); unset it to run them as $(id -un)"
  fi
  stop >/dev/null 2>&1
  log "nginx stopped; the logs are in $DIR/logs"
  return 1
}

start() {
  if running; then log "already running (pid $(cat "$DIR/nginx.pid"))"; return 0; fi
  [ -x "$NGINX" ] || { log "$NGINX is missing: run deploy/local/install-deps.sh"; exit 1; }
  check
  local web_root logged
  web_root="$(cd "$WEB_ROOT" && pwd)"
  logged="$(stat -c %s "$DIR/logs/error.log" 2>/dev/null || echo 0)"
  nginx_cmd
  for _ in $(seq 1 50); do
    if running && (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; then
      serves_console "$web_root" "$logged" || exit 1
      log "console on http://$HOST:$PORT/ (logs in $DIR/logs)"; return 0
    fi
    sleep 0.1
  done
  log "nginx did not start; see $DIR/logs/error.log"; tail -5 "$DIR/logs/error.log" >&2 || true; exit 1
}

stop() {
  if running; then
    log "stopping nginx (pid $(cat "$DIR/nginx.pid"))"
    local pid; pid="$(cat "$DIR/nginx.pid")"
    kill -QUIT "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null || true
  fi
  rm -f "$DIR/nginx.pid"
}

status() {
  if running; then echo "web: running on http://$HOST:$PORT/ (pid $(cat "$DIR/nginx.pid"))"
  else echo "web: stopped"; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  render) render; echo "$DIR/conf/nginx.conf" ;;
  check) check ;;
  *) echo "usage: $0 start|stop|status|render|check" >&2; exit 2 ;;
esac
