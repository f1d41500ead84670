#!/usr/bin/env bash
# One action server (actions/server.py: shared secret, body limit) on ACTIONS_HOST:ACTIONS_PORT.
set -euo pipefail
# shellcheck source=docker/entrypoints/common.sh
source "$(dirname "$0")/common.sh"
require ACTION_SERVER_TOKEN
export ACTIONS_HOST="${ACTIONS_HOST:-127.0.0.1}"
cd "$APP_DIR"
exec "$ML_PYTHON" -m actions.server --port "${ACTIONS_PORT:-5055}"
