#!/usr/bin/env bash
# Set up everything and run the whole test suite (unit, knowledge base, Rasa stories, live servers).
set -euo pipefail
cd "$(dirname "$0")/.."
export RASA_TELEMETRY_ENABLED=false HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONPATH="$PWD:$PWD/bot"
bash scripts/setup_env.sh
bash scripts/setup_test_env.sh
echo "==> lint (ruff)"
.venv-ml/bin/ruff check .
echo "==> knowledge-base index"
.venv-ml/bin/python -m knowledge_base build --if-stale
bash scripts/train_bot.sh
echo "==> widget unit tests (node --test)"
(cd widget && node --test test/)
echo "==> pytest"
.venv-ml/bin/python -m pytest -q -rs -p no:cacheprovider "$@"
