#!/usr/bin/env bash
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BASE="${TONGPIN_SERVICE_PORT_BASE:-8100}"
eval "$("$ROOT/deploy/local/servers.sh" env)"
cat <<TXT

Tongpin 同频 is running:
  staff console  http://127.0.0.1:${TONGPIN_WEB_PORT:-8080}/
  intake       http://127.0.0.1:$((BASE + 1))/docs
  triage       http://127.0.0.1:$((BASE + 2))/docs
  counselling  http://127.0.0.1:$((BASE + 3))/docs
  oversight    http://127.0.0.1:$((BASE + 4))/docs
  MongoDB-compatible (FerretDB)  $MONGODB_URL
  RabbitMQ                       $AMQP_URL
Logs in .run/logs/. Stop everything with: make down
TXT
if [ -f "$ROOT/.run/demo.env" ]; then
  . "$ROOT/.run/demo.env"
  cat <<TXT
The demo year is loaded. Sign in to the console as ${DEMO_ADMIN_USERNAME} (admin) or as a staff member
(zg-liu political worker, xl-he psychologist, dw-liu committee member, jw-sun auditor); passwords are
in .run/demo.env. Skip the demo year on an empty system with: TONGPIN_DEMO=0 make up
TXT
fi
