#!/usr/bin/env bash
# Take a new Rasa model into use on every instance of the native topology (scripts/prod_up.sh)
# without dropping a turn: one instance at a time,
#   1. nginx stops sending it turns (its "server" lines get "down"; nginx -s reload is graceful),
#   2. wait until nginx has no connection left to it (turns in flight finish there),
#   3. PUT /model (Rasa's HTTP API, token from secrets.env, loopback only) — this blocks that
#      process's event loop while the model loads, which is why it must carry no traffic then,
#   4. GET /status must name the new model; nginx sends it turns again.
# The other instances answer meanwhile (the conversations are in PostgreSQL).
#   scripts/prod_reload_model.sh /path/to/new-model.tar.gz        (PROD_DIR as for prod_up.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL="$(realpath "${1:?usage: $0 MODEL.tar.gz}")"
PROD_DIR="${PROD_DIR:-$PWD/.run/prod}"
CONF="$PROD_DIR/nginx/nginx.conf"
DRAIN_TIMEOUT="${DRAIN_TIMEOUT:-120}"
[ -f "$MODEL" ] || { echo "no model at $MODEL" >&2; exit 1; }
[ -f "$CONF" ] || { echo "no running topology in $PROD_DIR (scripts/prod_up.sh)" >&2; exit 1; }
TOKEN="$(sed -n 's/^RASA_AUTH_TOKEN=//p' "$PROD_DIR/secrets.env")"

# The Rasa instances: the "server" lines of nginx's "upstream rasa" block.
mapfile -t SERVERS < <(awk '/upstream rasa \{/{on=1; next} on && /\}/{on=0} on && $1=="server"{print $2}' "$CONF")
[ ${#SERVERS[@]} -ge 2 ] || { echo "fewer than 2 Rasa instances: a reload would stop the service" >&2; exit 1; }

set_down() {  # host:port on|off — in every upstream (REST round robin and socket.io sticky)
  local addr=$1 state=$2 re="${1//./\\.}"
  if [ "$state" = on ]; then
    sed -i -E "s#^( *server $re [^;]*[^n]);#\1 down;#" "$CONF"
  else
    sed -i -E "s#^( *server $re [^;]*) down;#\1;#" "$CONF"
  fi
  nginx -t -q -c "$CONF"
  nginx -c "$CONF" -s reload
}
connections() {  # established TCP connections to host:port (nginx opens one per turn: no keepalive)
  ss -Htn state established "( dport = :${1##*:} )" 2>/dev/null | grep -c "${1%:*}:${1##*:}" || true
}

for addr in "${SERVERS[@]}"; do
  echo "==> $addr: draining"
  set_down "$addr" on
  trap 'set_down "$addr" off' EXIT
  start=$SECONDS
  sleep 1  # let nginx's old workers pick up the new configuration
  while [ "$(connections "$addr")" -gt 0 ]; do
    (( SECONDS - start > DRAIN_TIMEOUT )) && { echo "$addr still busy after ${DRAIN_TIMEOUT}s" >&2; exit 1; }
    sleep 0.5
  done
  echo "    no turn in flight after $((SECONDS - start))s; PUT /model"
  t0=$SECONDS
  # the token goes to curl on stdin (-K -), never on a command line that ps shows
  code="$(printf 'url = "http://%s/model?token=%s"\n' "$addr" "$TOKEN" | curl -s -K - -o /dev/null \
            -w '%{http_code}' -X PUT -H 'Content-Type: application/json' -d "{\"model_file\": \"$MODEL\"}" \
            --max-time 900)"
  [ "$code" = 204 ] || { echo "PUT /model on $addr answered $code" >&2; exit 1; }
  printf 'url = "http://%s/status?token=%s"\n' "$addr" "$TOKEN" | curl -sf -K - | grep -q "$(basename "$MODEL")" \
    || { echo "$addr does not report $(basename "$MODEL")" >&2; exit 1; }
  set_down "$addr" off
  trap - EXIT
  echo "    $addr serves $(basename "$MODEL") (loaded in $((SECONDS - t0))s)"
done
echo "==> every instance serves $(basename "$MODEL")"
