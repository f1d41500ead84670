#!/usr/bin/env bash
# One Rasa server (REST, socket.io widget, Zalo) on RASA_HOST:RASA_PORT, with the production
# endpoints (bot/endpoints.prod.yml: PostgreSQL tracker store, Redis lock store, action servers).
set -euo pipefail
# shellcheck source=docker/entrypoints/common.sh
source "$(dirname "$0")/common.sh"
require RASA_AUTH_TOKEN ACTION_SERVER_TOKEN ACTION_ENDPOINT_URL DB_HOST DB_PORT DB_NAME DB_USER DB_PASSWORD \
        REDIS_HOST REDIS_PORT REDIS_PASSWORD
export REDIS_DB="${REDIS_DB:-1}"
# bot/credentials.yml reads these as ${VAR}: an unset one stops Rasa, an empty one leaves its channel off.
while read -r var; do
  case "$var" in ''|'#'*) continue ;; esac
  export "$var=${!var:-}"
done < "$APP_DIR/scripts/channel_env.txt"
cd "$APP_DIR/bot"
exec "$RASA_BIN" run --model "${RASA_MODEL:-$APP_DIR/models/rasa/latest.tar.gz}" \
  -i "${RASA_HOST:-127.0.0.1}" -p "${RASA_PORT:-5005}" \
  --enable-api --auth-token "$RASA_AUTH_TOKEN" \
  --credentials credentials.yml --endpoints "${RASA_ENDPOINTS:-endpoints.prod.yml}" \
  ${RASA_CORS:+--cors "$RASA_CORS"}
