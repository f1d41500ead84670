#!/usr/bin/env bash
# The admin web app (python -m admin serve) on ADMIN_HOST:ADMIN_PORT, after creating or upgrading
# the catalogue database (KB_DATABASE_URL; PostgreSQL in production, see docs/admin.md), with the
# live-agent desk (DESK_SECRET, RASA_URL, RASA_AUTH_TOKEN).
set -euo pipefail
# shellcheck source=docker/entrypoints/common.sh
source "$(dirname "$0")/common.sh"
# The live-agent desk (docs/desk.md) in this app: the action servers' hand-off hook secret, and
# Rasa's HTTP API (an instance's internal address, never nginx's public listener) with its token.
require DESK_SECRET RASA_URL RASA_AUTH_TOKEN
cd "$APP_DIR"
"$ML_PYTHON" -m knowledge_base db init
exec "$ML_PYTHON" -m admin serve --host "${ADMIN_HOST:-127.0.0.1}" --port "${ADMIN_PORT:-8090}"
