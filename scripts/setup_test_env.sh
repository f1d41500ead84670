#!/usr/bin/env bash
# Test-only parts on top of scripts/setup_env.sh: Debian's chromium for the browser tests
# (Playwright drives it; nothing is downloaded by Playwright itself) and the test packages
# of requirements/test.lock in .venv-ml; Debian's PostgreSQL 15 for the storage tests (tests/admin).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1; then
  echo "==> apt-get install chromium (browser tests)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
fi
if [ ! -x /usr/lib/postgresql/15/bin/initdb ]; then
  echo "==> apt-get install postgresql-15 (storage tests run against SQLite and PostgreSQL; scripts/pg_test.sh starts it)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql-15 >/dev/null
fi
if ! cmp -s requirements/test.lock .venv-ml/.installed-test; then
  echo "==> .venv-ml: test packages (playwright, python-socketio client)"
  .venv-ml/bin/pip install --progress-bar off -q -r requirements/test.lock
  cp requirements/test.lock .venv-ml/.installed-test
fi
