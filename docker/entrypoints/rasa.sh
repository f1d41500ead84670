#!/usr/bin/env bash
# One Rasa server (REST, socket.io widget, Zalo) on RASA_HOST:RASA_PORT, with the production
# endpoints (bot/endpoints.prod.yml: PostgreSQL tracker store, Redis lock store, action servers).
set -euo pipefail
# shellcheck source=docker/entrypoints/common.sh
source "$(dirname "$0")/common.sh"
require RASA_AUTH_TOKEN ACTION_SERVER_TOKEN ACTION_ENDPOINT_URL DB_HOST DB_PORT DB_NAME DB_USER DB_PASSWORD \
        REDIS_HOST REDIS_PORT REDIS_PASSWORD
export REDIS_DB="${REDIS_DB:-1}"
# Messages sent outside a turn (the live-agent desk's operator, docs/desk.md) reach a citizen held by
# another Rasa process through this Redis: socket.io rooms (python-socketio's Redis manager) and the
# REST channel's queue (bot/channels/out_of_turn.py). The password comes from REDIS_PASSWORD, never
# the URL. Set it empty to keep both in this process's memory (one Rasa process only).
export CHANNEL_REDIS_URL="${CHANNEL_REDIS_URL-redis://$REDIS_HOST:$REDIS_PORT/$REDIS_DB}"
# How long a conversation's lock ticket lives (Rasa's default: 60 s). A turn takes well under a
# second; when an instance dies mid-turn its ticket blocks that conversation until it expires,
# and nginx's retry of the turn on another instance waits that long (docs/deploy.md).
export TICKET_LOCK_LIFETIME="${TICKET_LOCK_LIFETIME:-10}"
# bot/credentials.yml reads these as ${VAR}: an unset one stops Rasa, an empty one leaves its channel off.
while read -r var; do
  case "$var" in ''|'#'*) continue ;; esac
  export "$var=${!var:-}"
done < "$APP_DIR/scripts/channel_env.txt"
cd "$APP_DIR/bot"
# Rasa's own command line, through rasa_serve.py: the same "rasa run", without importing jax
# (about 70 MB per process), with the action response schema checked once and Rasa's ticket lock
# fixed for turns resent after an instance died (see that file).
exec "$(dirname "$RASA_BIN")/python" "$APP_DIR/docker/entrypoints/rasa_serve.py" run --model "${RASA_MODEL:-$APP_DIR/models/rasa/latest.tar.gz}" \
  -i "${RASA_HOST:-127.0.0.1}" -p "${RASA_PORT:-5005}" \
  --enable-api --auth-token "$RASA_AUTH_TOKEN" \
  --credentials credentials.yml --endpoints "${RASA_ENDPOINTS:-endpoints.prod.yml}" \
  ${RASA_CORS:+--cors "$RASA_CORS"}
