#!/usr/bin/env bash
# nginx in front of everything: renders docker/nginx.conf.template with the upstream addresses
# of this topology, checks it and runs nginx in the foreground.
#   RASA_SERVERS="127.0.0.1:5006 127.0.0.1:5007"   (containers: "rasa1:5005 rasa2:5005")
#   ACTIONS_SERVERS, ADMIN_SERVER, VOICE_SERVER       the same, for the other upstreams
#   NGINX_LISTEN, NGINX_ACTIONS_LISTEN                public listener, internal Rasa -> actions listener
#   NGINX_RUN_DIR                                     rendered config, pid and temp files
#   NGINX_RESOLVER                                    DNS server for ADMIN_SERVER / VOICE_SERVER names
#                                                     (containers: 127.0.0.11; natively unset: addresses)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
TEMPLATE="${NGINX_TEMPLATE:-$HERE/../nginx.conf.template}"
: "${RASA_SERVERS:?}" "${ACTIONS_SERVERS:?}"
export NGINX_LISTEN="${NGINX_LISTEN:-127.0.0.1:8080}"
export NGINX_ACTIONS_LISTEN="${NGINX_ACTIONS_LISTEN:-127.0.0.1:5060}"
export ADMIN_SERVER="${ADMIN_SERVER:-127.0.0.1:8090}" VOICE_SERVER="${VOICE_SERVER:-127.0.0.1:8088}"
export NGINX_RUN_DIR="${NGINX_RUN_DIR:-/tmp/tthc-nginx}"
export NGINX_ERROR_LOG="${NGINX_ERROR_LOG:-$NGINX_RUN_DIR/error.log}"
export NGINX_ACCESS_LOG="${NGINX_ACCESS_LOG:-$NGINX_RUN_DIR/access.log}"
export NGINX_MAX_BODY="${NGINX_MAX_BODY:-256k}" ADMIN_MAX_BODY="${ADMIN_MAX_BODY:-64m}"
export WEBHOOK_RATE="${WEBHOOK_RATE:-10r/s}" WEBHOOK_BURST="${WEBHOOK_BURST:-20}"
# max_fails=0: nginx never marks an instance down. Measured in tests/test_fault.py: with
# max_fails=1, one slow turn (a read timeout counts as a failure whatever proxy_next_upstream
# says) on the last live instance while the other was dead made nginx answer "no live upstreams"
# (502) to every turn for fail_timeout. A dead instance costs a refused connection instead (under
# a millisecond on loopback or a private network), and the turn goes to the next one.
servers() {  # "a:1 b:2" -> "server a:1 max_fails=0;" lines
  local s
  for s in $1; do printf '        server %s max_fails=0;\n' "$s"; done
}
RASA_UPSTREAM="$(servers "$RASA_SERVERS")" ACTIONS_UPSTREAM="$(servers "$ACTIONS_SERVERS")"
export RASA_UPSTREAM ACTIONS_UPSTREAM
if [ "$(id -u)" = 0 ]; then
  NGINX_USER_LINE="user ${NGINX_USER:-www-data};"
else
  NGINX_USER_LINE=""
fi
export NGINX_USER_LINE
export NGINX_RESOLVER_LINE="${NGINX_RESOLVER:+    resolver $NGINX_RESOLVER valid=10s;}"
mkdir -p "$NGINX_RUN_DIR/tmp"
[ "$(id -u)" = 0 ] && chown "${NGINX_USER:-www-data}" "$NGINX_RUN_DIR/tmp"
vars='$NGINX_USER_LINE $NGINX_RESOLVER_LINE $NGINX_LISTEN $NGINX_ACTIONS_LISTEN $RASA_UPSTREAM $ACTIONS_UPSTREAM $ADMIN_SERVER $VOICE_SERVER
      $NGINX_RUN_DIR $NGINX_ERROR_LOG $NGINX_ACCESS_LOG $NGINX_MAX_BODY $ADMIN_MAX_BODY $WEBHOOK_RATE $WEBHOOK_BURST'
envsubst "$vars" < "$TEMPLATE" > "$NGINX_RUN_DIR/nginx.conf"
nginx -t -q -c "$NGINX_RUN_DIR/nginx.conf"
exec nginx -c "$NGINX_RUN_DIR/nginx.conf" -g 'daemon off;'
