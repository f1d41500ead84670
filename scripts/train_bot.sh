#!/usr/bin/env bash
# Train the Rasa model only when its inputs changed: the model file is named after a hash
# of config, domain, training data and custom components, so an unchanged bot skips training.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
export RASA_TELEMETRY_ENABLED=false PYTHONPATH="$PWD:$PWD/bot"
OUT="${RASA_MODEL_DIR:-$PWD/models/rasa}"
hash=$(cat bot/config.yml bot/domain.yml bot/data/*.yml bot/components/*.py vntext/*.py | sha256sum | cut -c1-16)
model="$OUT/bot-$hash.tar.gz"
if [ -f "$model" ]; then
  echo "==> Rasa model up to date ($(basename "$model"))"
else
  echo "==> training the Rasa model (about 2-3 minutes on 2 cores)"
  mkdir -p "$OUT"
  start=$(date +%s)
  log="$OUT/train-$hash.log"
  (cd bot && heartbeat "rasa train (log: $log)" bash -c '../.venv-rasa/bin/rasa train --config config.yml \
      --domain domain.yml --data data --out "$1" --fixed-model-name "$2" >"$3" 2>&1' _ "$OUT" "bot-$hash" "$log") \
    || { tail -30 "$log" >&2; exit 1; }
  [ -f "$model" ] || { echo "training failed" >&2; exit 1; }
  echo "==> trained in $(( $(date +%s) - start ))s: $(basename "$model")"
fi
ln -sfn "$(basename "$model")" "$OUT/latest.tar.gz"
