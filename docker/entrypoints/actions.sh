#!/usr/bin/env bash
# One action server (actions/server.py: shared secret, body limit) on ACTIONS_HOST:ACTIONS_PORT.
set -euo pipefail
# shellcheck source=docker/entrypoints/common.sh
source "$(dirname "$0")/common.sh"
require ACTION_SERVER_TOKEN
# The live-agent desk (docs/desk.md): the hand-off hook needs its shared secret.
if [ -n "${AGENT_DESK_URL:-}" ]; then require DESK_SECRET; fi
export ACTIONS_HOST="${ACTIONS_HOST:-127.0.0.1}"
cd "$APP_DIR"
exec "$ML_PYTHON" -m actions.server --port "${ACTIONS_PORT:-5055}"
