#!/usr/bin/env bash
# Validate docker/compose.yml without a Docker daemon: `docker compose config` where the compose
# plugin is installed, else Debian's docker-compose 1.29.2 (installed here when missing), which
# checks the file against the Compose specification's schema and resolves ${VAR}s.
#   scripts/compose_check.sh [config args...]      e.g. -q, or --services
# Secrets must be in the environment (the file refuses to resolve without them).
set -euo pipefail
cd "$(dirname "$0")/.."
if docker compose version >/dev/null 2>&1; then
  exec docker compose -f "${COMPOSE_FILE:-docker/compose.yml}" config "$@"
fi
if ! command -v docker-compose >/dev/null 2>&1; then
  echo "==> apt-get install docker-compose (compose file validation)" >&2
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq docker-compose >/dev/null
fi
exec docker-compose -f "${COMPOSE_FILE:-docker/compose.yml}" config "$@"
