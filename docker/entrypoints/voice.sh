#!/usr/bin/env bash
# The phone gateway (python -m voice) on VOICE_HOST:VOICE_PORT; its settings: voice/config.py, docs/voice.md.
set -euo pipefail
# shellcheck source=docker/entrypoints/common.sh
source "$(dirname "$0")/common.sh"
cd "$APP_DIR"
exec "$ML_PYTHON" -m voice --host "${VOICE_HOST:-127.0.0.1}" --port "${VOICE_PORT:-8088}"
