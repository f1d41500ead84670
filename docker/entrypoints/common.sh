# Sourced by every entry point in this folder. The same scripts start each service natively
# (scripts/prod_up.sh, from the checkout with its .venv-rasa / .venv-ml) and in the containers
# (docker/*.Dockerfile, where the application lives at /app with the same venv paths).
APP_DIR="${APP_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
export APP_DIR
export RASA_TELEMETRY_ENABLED=false HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
# glibc gives each thread that allocates its own malloc arena (up to 8 per core); TensorFlow's
# and torch's thread pools then hold many half-empty arenas. Two arenas cost no measurable speed
# here and less resident memory (docs/deploy.md, sizing).
export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"
export PYTHONPATH="$APP_DIR:$APP_DIR/bot"
ML_PYTHON="${ML_PYTHON:-$APP_DIR/.venv-ml/bin/python}"
RASA_BIN="${RASA_BIN:-$APP_DIR/.venv-rasa/bin/rasa}"

# require VAR...: stop with a clear message when a secret or setting is missing.
require() {
  local var
  for var in "$@"; do
    [ -n "${!var:-}" ] || { echo "$(basename "$0"): $var is not set" >&2; exit 2; }
  done
}
