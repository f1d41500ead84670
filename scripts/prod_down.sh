#!/usr/bin/env bash
# Stop what scripts/prod_up.sh started: nginx, the Rasa and action servers, Redis, PostgreSQL.
# Data stays in .run/prod/ (PROD_DIR).
set -uo pipefail
cd "$(dirname "$0")/.."
PROD_DIR="${PROD_DIR:-$PWD/.run/prod}"
PGBIN="${PGBIN:-/usr/lib/postgresql/15/bin}"
stop_pid() {  # name pid: TERM to its process group (setsid), KILL after 20 s
  local name=$1 pid=$2 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
  for i in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null; fi
  echo "==> stopped $name"
}
# nginx first (no new turns), then Rasa, then what Rasa calls; any number of replicas.
shopt -s nullglob
for f in "$PROD_DIR"/pids/nginx.pid "$PROD_DIR"/pids/rasa*.pid "$PROD_DIR"/pids/admin.pid "$PROD_DIR"/pids/voice.pid \
         "$PROD_DIR"/pids/actions*.pid; do
  [ -f "$f" ] || continue
  name="$(basename "$f" .pid)"
  stop_pid "$name" "$(cat "$f")"
  rm -f "$f"
done
if [ -f "$PROD_DIR/redis/redis.pid" ]; then
  stop_pid redis "$(cat "$PROD_DIR/redis/redis.pid")"
fi
if [ -f "$PROD_DIR/pg/PG_VERSION" ]; then
  if [ "$(id -u)" = 0 ]; then AS=(runuser -u postgres --); else AS=(); fi
  "${AS[@]}" "$PGBIN/pg_ctl" -D "$PROD_DIR/pg" -m fast stop >/dev/null 2>&1 && echo "==> stopped PostgreSQL"
fi
exit 0
