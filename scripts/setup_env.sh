#!/usr/bin/env bash
# Create the two virtual environments from the lock files.
#   .venv-rasa : Rasa Open Source 3.6 server (+ underthesea for the tokenizer component)
#   .venv-ml   : action server, knowledge base, voice gateway (torch CPU, sentence-transformers, faiss, vosk, twilio)
# Two environments because Rasa 3.6's pins (numpy<1.25, setuptools, twilio<8.3) fight the ML stack,
# and one shared environment doubles the Rasa server's memory.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3.11}"
which=${1:-all}
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

need_apt=()
for pkg in gcc g++ pkg-config libfreetype-dev libqhull-dev espeak-ng sox; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "==> apt-get install ${need_apt[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

stamp_ok() { [ -f "$1/.installed" ] && cmp -s "$1/.installed" "$2"; }

if [ "$which" = all ] || [ "$which" = ml ]; then
  if ! stamp_ok .venv-ml requirements/ml.lock; then
    echo "==> .venv-ml: installing the ML stack (torch CPU, sentence-transformers, faiss, vosk, twilio) — a few minutes"
    [ -x .venv-ml/bin/python ] || "$PY" -m venv .venv-ml
    heartbeat "installing .venv-ml" .venv-ml/bin/pip install --progress-bar off -q -r requirements/ml.lock
    .venv-ml/bin/python -c "import torch, sentence_transformers, faiss, vosk, twilio, underthesea, rasa_sdk, sqlalchemy, alembic, argon2, psycopg" \
      || { echo "ML environment is broken" >&2; exit 1; }
    cp requirements/ml.lock .venv-ml/.installed
  fi
fi

if [ "$which" = all ] || [ "$which" = rasa ]; then
  if ! stamp_ok .venv-rasa requirements/rasa.lock; then
    echo "==> .venv-rasa: installing Rasa 3.6 for Python 3.11 from pinned versions — about 5 minutes"
    [ -x .venv-rasa/bin/python ] || "$PY" -m venv .venv-rasa
    # rasa and rasa-sdk declare Python <3.11; every other pin is exact, so nothing backtracks.
    MPLSETUPCFG="$PWD/scripts/mplsetup.cfg" heartbeat "installing .venv-rasa" .venv-rasa/bin/pip install \
      --progress-bar off -q --ignore-requires-python -r requirements/rasa.lock
    .venv-rasa/bin/pip check
    RASA_TELEMETRY_ENABLED=false .venv-rasa/bin/rasa --version >/dev/null
    cp requirements/rasa.lock .venv-rasa/.installed
  fi
fi
if [ "$which" = all ] || [ "$which" = widget ]; then
  bash scripts/build_widget.sh
fi
echo "==> environments ready"
