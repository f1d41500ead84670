#!/usr/bin/env bash
# The production topology, natively on this machine (Debian), everything on loopback:
#   PostgreSQL 15 (Rasa's tracker store)  Redis 7 (Rasa's lock store)
#   2 action servers, 2 Rasa servers, nginx in front (docker/nginx.conf.template)
# Each service starts through the same entry point its container uses (docker/entrypoints/).
# Data, logs, pid files and secrets live in .run/prod/ (PROD_DIR). Stop: scripts/prod_down.sh.
#   PROD_HTTP_PORT (8080)  PROD_PG_PORT (55433)  PROD_REDIS_PORT (56379)
#   PROD_RASA_PORTS ("5006 5007")  PROD_ACTIONS_PORTS ("5056 5057")  PROD_ACTIONS_LB_PORT (5060)
#   RASA_REPLICAS / ACTIONS_REPLICAS (2): how many, on consecutive ports, when the ports are not listed
# Run it again to restart any process that has died (the others are left as they are).
#   PROD_ADMIN=1 / PROD_VOICE=1 also start the admin web app (with the live-agent desk, docs/desk.md)
#   / the phone gateway behind nginx.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
PROD_DIR="${PROD_DIR:-$REPO/.run/prod}"
HTTP_PORT="${PROD_HTTP_PORT:-8080}"
PG_PORT="${PROD_PG_PORT:-55433}"
REDIS_PORT="${PROD_REDIS_PORT:-56379}"
# How many: RASA_REPLICAS / ACTIONS_REPLICAS (2 each) on consecutive ports, or the ports listed.
seq_ports() { seq "$1" $(( $1 + $2 - 1 )) | tr '\n' ' '; }
read -r -a RASA_PORTS <<< "${PROD_RASA_PORTS:-$(seq_ports 5006 "${RASA_REPLICAS:-2}")}"
read -r -a ACTIONS_PORTS <<< "${PROD_ACTIONS_PORTS:-$(seq_ports 5056 "${ACTIONS_REPLICAS:-2}")}"
ACTIONS_LB_PORT="${PROD_ACTIONS_LB_PORT:-5060}"
ADMIN_PORT="${PROD_ADMIN_PORT:-8090}"
VOICE_PORT="${PROD_VOICE_PORT:-8088}"
PGBIN="${PGBIN:-/usr/lib/postgresql/15/bin}"
TIMEOUT="${STARTUP_TIMEOUT:-300}"

# 1. Debian packages, only when missing.
need=()
[ -x "$PGBIN/initdb" ] || need+=(postgresql-15)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v nginx >/dev/null 2>&1 || need+=(nginx)
command -v envsubst >/dev/null 2>&1 || need+=(gettext-base)
if [ ${#need[@]} -gt 0 ]; then
  echo "==> apt-get install ${need[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
[ -x .venv-rasa/bin/rasa ] && [ -x .venv-ml/bin/python ] || { echo "run scripts/setup_env.sh first (make setup)" >&2; exit 1; }
[ -f models/rasa/latest.tar.gz ] || { echo "no trained model: run scripts/train_bot.sh (make train)" >&2; exit 1; }

mkdir -p "$PROD_DIR"/{logs,pids,nginx}
chmod 700 "$PROD_DIR/logs"
chmod 755 "$PROD_DIR"

# 2. Secrets: made once, kept in $PROD_DIR/secrets.env (mode 600); values already in the environment win.
if [ ! -f "$PROD_DIR/secrets.env" ]; then
  (umask 077; .venv-ml/bin/python -c 'import secrets
for k in ("DB_PASSWORD", "REDIS_PASSWORD", "ACTION_SERVER_TOKEN", "RASA_AUTH_TOKEN", "DESK_SECRET"):
    print(f"{k}={secrets.token_urlsafe(24)}")' > "$PROD_DIR/secrets.env")
fi
# DESK_SECRET (action servers -> the live-agent desk's hand-off hook, docs/desk.md) is added to an older file.
grep -q '^DESK_SECRET=' "$PROD_DIR/secrets.env" \
  || (umask 077; .venv-ml/bin/python -c 'import secrets; print(f"DESK_SECRET={secrets.token_urlsafe(24)}")' >> "$PROD_DIR/secrets.env")
chmod 600 "$PROD_DIR/secrets.env"
while IFS='=' read -r key value; do
  [ -n "${!key:-}" ] || export "$key=$value"
done < "$PROD_DIR/secrets.env"

# Services run as their own system users (PostgreSQL refuses root); as another user, as that user.
if [ "$(id -u)" = 0 ]; then AS_PG=(runuser -u postgres --); AS_REDIS=(runuser -u redis --); PG_OWNER=postgres; REDIS_OWNER=redis
else AS_PG=(); AS_REDIS=(); PG_OWNER="$(id -un)"; REDIS_OWNER="$(id -un)"; fi

# 3. PostgreSQL: loopback only, password (scram) over TCP, the superuser only through the local socket.
PGDATA="$PROD_DIR/pg"
for user in "$PG_OWNER" "$REDIS_OWNER"; do
  runuser -u "$user" -- test -x "$PROD_DIR" 2>/dev/null || [ "$(id -u)" != 0 ] \
    || { echo "$user cannot reach $PROD_DIR (a parent folder is private): choose another PROD_DIR" >&2; exit 1; }
done
if [ ! -f "$PGDATA/PG_VERSION" ]; then
  echo "==> PostgreSQL: initdb in $PGDATA"
  mkdir -p "$PGDATA" && chown "$PG_OWNER" "$PGDATA" && chmod 700 "$PGDATA"
  "${AS_PG[@]}" "$PGBIN/initdb" -D "$PGDATA" -U "$PG_OWNER" --auth-local=peer --auth-host=scram-sha-256 \
    -E UTF8 --locale=C.UTF-8 >/dev/null
fi
if ! "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
  echo "==> PostgreSQL on 127.0.0.1:$PG_PORT"
  "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PGDATA" start >/dev/null
fi
psql_admin() { "${AS_PG[@]}" "$PGBIN/psql" -h "$PGDATA" -p "$PG_PORT" -U "$PG_OWNER" -d postgres -v ON_ERROR_STOP=1 -qtA "$@"; }
export DB_HOST=127.0.0.1 DB_PORT="$PG_PORT" DB_NAME="${DB_NAME:-tthc}" DB_USER="${DB_USER:-tthc}"
if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname='$DB_USER'")" != 1 ]; then
  psql_admin -c "CREATE ROLE \"$DB_USER\" LOGIN" >/dev/null
fi
# (re)set the password from secrets.env without putting it on a command line
printf "ALTER ROLE \"%s\" PASSWORD '%s';\n" "$DB_USER" "$DB_PASSWORD" | psql_admin >/dev/null
if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname='$DB_NAME'")" != 1 ]; then
  psql_admin -c "CREATE DATABASE \"$DB_NAME\" OWNER \"$DB_USER\" ENCODING 'UTF8'" >/dev/null
fi

# 4. Redis: loopback, password, append-only file.
REDIS_DIR="$PROD_DIR/redis"
mkdir -p "$REDIS_DIR" && chown "$REDIS_OWNER" "$REDIS_DIR" && chmod 700 "$REDIS_DIR"
(umask 077; cat > "$REDIS_DIR/redis.conf" <<CONF
bind 127.0.0.1
protected-mode yes
port $REDIS_PORT
requirepass $REDIS_PASSWORD
dir $REDIS_DIR
pidfile $REDIS_DIR/redis.pid
logfile $REDIS_DIR/redis.log
appendonly yes
daemonize yes
CONF
)
chown "$REDIS_OWNER" "$REDIS_DIR/redis.conf"
export REDIS_HOST=127.0.0.1 REDIS_PORT REDIS_DB="${REDIS_DB:-1}"
if ! REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; then
  echo "==> Redis on 127.0.0.1:$REDIS_PORT"
  "${AS_REDIS[@]}" redis-server "$REDIS_DIR/redis.conf"
fi

# 5. The application processes, each through its entry point, detached; pid files in $PROD_DIR/pids.
export ACTION_ENDPOINT_URL="http://127.0.0.1:$ACTIONS_LB_PORT/webhook"
start() {  # name entrypoint VAR=value...
  local name=$1 entry=$2; shift 2
  local pidfile="$PROD_DIR/pids/$name.pid"
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "    $name already running (pid $(cat "$pidfile"))"; return
  fi
  # CPU priority: with the phone gateway here, chat turns (Rasa, actions) yield the cores to its
  # real-time audio (docs/voice.md, "CPU priority"); CHAT_NICE overrides, 0 = same priority.
  local nice=0; case $name in rasa*|actions*) nice="${CHAT_NICE:-$([ "${PROD_VOICE:-0}" = 1 ] && echo 10 || echo 0)}" ;; esac
  env "$@" nice -n "$nice" setsid "docker/entrypoints/$entry" > "$PROD_DIR/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$pidfile"
  echo "==> $name (pid $!, log: $PROD_DIR/logs/$name.log)"
}
# The live-agent desk lives in the admin app (PROD_ADMIN=1): the action servers hand conversations
# off to its hook and pause the bot while an operator talks. Without the admin app the hook is
# unreachable and the citizen gets the hotline (docs/desk.md); AGENT_DESK_URL= (empty) turns it off.
AGENT_DESK_URL="${AGENT_DESK_URL-http://127.0.0.1:$ADMIN_PORT/admin/desk/api}"
for i in "${!ACTIONS_PORTS[@]}"; do
  start "actions$((i + 1))" actions.sh ACTIONS_HOST=127.0.0.1 ACTIONS_PORT="${ACTIONS_PORTS[$i]}" \
    AGENT_DESK_URL="$AGENT_DESK_URL" HANDOFF_PAUSE="${HANDOFF_PAUSE:-1}"
done
# The Rasa servers record turns (bot/endpoints.prod.yml, event_broker) into this PostgreSQL, the
# catalogue's database too: its schema (Alembic, knowledge_base/migrations) is upgraded first.
export KB_DATABASE_URL="${KB_DATABASE_URL:-postgresql+psycopg://$DB_USER:$DB_PASSWORD@127.0.0.1:$PG_PORT/$DB_NAME}"
.venv-ml/bin/python -c 'from knowledge_base import db; db.upgrade()' > "$PROD_DIR/logs/db-upgrade.log" 2>&1 \
  || { tail -20 "$PROD_DIR/logs/db-upgrade.log" >&2; exit 1; }
for i in "${!RASA_PORTS[@]}"; do
  start "rasa$((i + 1))" rasa.sh RASA_HOST=127.0.0.1 RASA_PORT="${RASA_PORTS[$i]}"
done
# The admin app's desk speaks to citizens through one Rasa instance's HTTP API (internal port, token);
# any instance reaches any citizen (CHANNEL_REDIS_URL, docker/entrypoints/rasa.sh).
if [ "${PROD_ADMIN:-0}" = 1 ]; then
  start admin admin.sh ADMIN_HOST=127.0.0.1 ADMIN_PORT="$ADMIN_PORT" RASA_URL="http://127.0.0.1:${RASA_PORTS[0]}"
fi
if [ "${PROD_VOICE:-0}" = 1 ]; then
  start voice voice.sh VOICE_HOST=127.0.0.1 VOICE_PORT="$VOICE_PORT" RASA_URL="http://127.0.0.1:$ACTIONS_LB_PORT"
fi
servers() { local p out=""; for p in "$@"; do out+="127.0.0.1:$p "; done; echo "${out% }"; }
start nginx nginx.sh NGINX_LISTEN="127.0.0.1:$HTTP_PORT" NGINX_ACTIONS_LISTEN="127.0.0.1:$ACTIONS_LB_PORT" \
  RASA_SERVERS="$(servers "${RASA_PORTS[@]}")" ACTIONS_SERVERS="$(servers "${ACTIONS_PORTS[@]}")" \
  ADMIN_SERVER="127.0.0.1:$ADMIN_PORT" VOICE_SERVER="127.0.0.1:$VOICE_PORT" NGINX_RUN_DIR="$PROD_DIR/nginx" \
  NGINX_ERROR_LOG="$PROD_DIR/logs/nginx-error.log" NGINX_ACCESS_LOG="$PROD_DIR/logs/nginx-access.log"

wait_for() {  # name url
  local start=$SECONDS pid
  pid="$(cat "$PROD_DIR/pids/$1.pid")"
  printf "    waiting for %s " "$1"
  until curl -sf -o /dev/null "$2"; do
    kill -0 "$pid" 2>/dev/null || { echo; echo "$1 exited; last log lines:" >&2; tail -20 "$PROD_DIR/logs/$1.log" >&2; exit 1; }
    (( SECONDS - start > TIMEOUT )) && { echo; echo "$1 did not start in ${TIMEOUT}s" >&2; exit 1; }
    printf "."; sleep 2
  done
  echo " ok"
}
for i in "${!ACTIONS_PORTS[@]}"; do wait_for "actions$((i + 1))" "http://127.0.0.1:${ACTIONS_PORTS[$i]}/health"; done
for i in "${!RASA_PORTS[@]}"; do wait_for "rasa$((i + 1))" "http://127.0.0.1:${RASA_PORTS[$i]}/webhooks/rest/"; done
wait_for nginx "http://127.0.0.1:$HTTP_PORT/webhooks/rest/"
cat <<MSG
Production topology up (stop: scripts/prod_down.sh):
  public entry (nginx):  http://127.0.0.1:$HTTP_PORT/webhooks/rest/webhook   /widget/   /socket.io/
  Rasa: ${RASA_PORTS[*]}   actions: ${ACTIONS_PORTS[*]} (via nginx 127.0.0.1:$ACTIONS_LB_PORT)
  PostgreSQL 127.0.0.1:$PG_PORT (db $DB_NAME, user $DB_USER)   Redis 127.0.0.1:$REDIS_PORT
  live-agent desk: the admin app (PROD_ADMIN=1) at /admin/desk; hand-off hook $AGENT_DESK_URL
  secrets: $PROD_DIR/secrets.env   logs: $PROD_DIR/logs/
MSG
