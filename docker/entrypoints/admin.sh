#!/usr/bin/env bash
# The admin web app (python -m admin serve) on ADMIN_HOST:ADMIN_PORT, after creating or upgrading
# the catalogue database (KB_DATABASE_URL; PostgreSQL in production, see docs/admin.md).
set -euo pipefail
# shellcheck source=docker/entrypoints/common.sh
source "$(dirname "$0")/common.sh"
cd "$APP_DIR"
"$ML_PYTHON" -m knowledge_base db init
exec "$ML_PYTHON" -m admin serve --host "${ADMIN_HOST:-127.0.0.1}" --port "${ADMIN_PORT:-8090}"
