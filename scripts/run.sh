#!/usr/bin/env bash
# Start the action server and the Rasa server on loopback, wait until both answer, then chat.
set -euo pipefail
cd "$(dirname "$0")/.."
export RASA_TELEMETRY_ENABLED=false HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONPATH="$PWD:$PWD/bot"
export RASA_PORT="${RASA_PORT:-5005}" ACTIONS_PORT="${ACTIONS_PORT:-5055}" ADMIN_PORT="${ADMIN_PORT:-8090}"
MODEL="${RASA_MODEL:-models/rasa/latest.tar.gz}"
mkdir -p .run
# bot/credentials.yml reads these as ${VAR}; an unset one would stop Rasa, an empty one leaves its channel off.
while read -r var; do
  case "$var" in ''|'#'*) continue ;; esac
  export "$var=${!var:-}"
done < scripts/channel_env.txt
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

# Secrets come from the environment; when absent, they are made once and kept in .run/secrets.env (mode 600):
# ACTION_SERVER_TOKEN (the Rasa server -> action server secret) and RASA_AUTH_TOKEN (the Rasa HTTP API).
if [ ! -f .run/secrets.env ]; then
  (umask 077; .venv-ml/bin/python -c 'import secrets; print(f"ACTION_SERVER_TOKEN={secrets.token_urlsafe(24)}\nRASA_AUTH_TOKEN={secrets.token_urlsafe(24)}")' > .run/secrets.env)
fi
# DESK_SECRET (the action server -> live-agent desk hand-off hook, docs/desk.md) is added to an older file.
grep -q '^DESK_SECRET=' .run/secrets.env || (umask 077; .venv-ml/bin/python -c 'import secrets; print(f"DESK_SECRET={secrets.token_urlsafe(24)}")' >> .run/secrets.env)
while IFS='=' read -r key value; do
  [ -n "${!key:-}" ] || export "$key=$value"
done < .run/secrets.env
# The live-agent desk lives in the admin app; the bot pauses for a hand-off and the desk resumes it.
export AGENT_DESK_URL="${AGENT_DESK_URL-http://127.0.0.1:$ADMIN_PORT/admin/desk/api}" HANDOFF_PAUSE="${HANDOFF_PAUSE:-1}"
export RASA_URL="${RASA_URL:-http://127.0.0.1:$RASA_PORT}"
echo "==> starting the action server on 127.0.0.1:$ACTIONS_PORT (log: .run/actions.log)"
.venv-ml/bin/python -m actions.server --port "$ACTIONS_PORT" > .run/actions.log 2>&1 &
pids+=($!)
echo "==> starting the admin web app on 127.0.0.1:$ADMIN_PORT (log: .run/admin.log)"
.venv-ml/bin/python -m knowledge_base db init > .run/admin.log 2>&1 || { tail -20 .run/admin.log >&2; exit 1; }
.venv-ml/bin/python -m admin serve --port "$ADMIN_PORT" >> .run/admin.log 2>&1 &
pids+=($!)
echo "==> starting the Rasa server on 127.0.0.1:$RASA_PORT (log: .run/rasa.log)"
# Rasa's own "rasa run", through the same launcher as the containers (docker/entrypoints/rasa_serve.py:
# no jax, the action response schema checked once, the lock fix)
(cd bot && exec ../.venv-rasa/bin/python ../docker/entrypoints/rasa_serve.py run --model "../$MODEL" -i 127.0.0.1 -p "$RASA_PORT" --enable-api --auth-token "$RASA_AUTH_TOKEN" \
    --credentials credentials.yml --endpoints endpoints.yml ${RASA_CORS:+--cors "$RASA_CORS"}) > .run/rasa.log 2>&1 &
pids+=($!)

wait_for() {  # name url pid
  local start=$SECONDS
  printf "    waiting for %s " "$1"
  until curl -sf "$2" >/dev/null 2>&1; do
    kill -0 "$3" 2>/dev/null || { echo; echo "$1 exited; last log lines:" >&2; tail -20 ".run/$4.log" >&2; exit 1; }
    (( SECONDS - start > ${STARTUP_TIMEOUT:-240} )) && { echo; echo "$1 did not start in time" >&2; exit 1; }
    printf "."; sleep 2
  done
  echo " ok ($(( SECONDS - start ))s)"
}
wait_for "action server" "http://127.0.0.1:$ACTIONS_PORT/health" "${pids[0]}" actions
wait_for "admin web app" "http://127.0.0.1:$ADMIN_PORT/health" "${pids[1]}" admin
wait_for "Rasa server" "http://127.0.0.1:$RASA_PORT/webhooks/rest/" "${pids[2]}" rasa

cat <<MSG

Trợ lý đã sẵn sàng.
  - Trò chuyện trong terminal:  make chat
  - REST:  curl -s -XPOST http://127.0.0.1:$RASA_PORT/webhooks/rest/webhook \\
             -H 'Content-Type: application/json' -d '{"sender":"dan","message":"làm căn cước cần giấy tờ gì?"}'
  - Widget trên trang web (trang minh hoạ): http://127.0.0.1:$RASA_PORT/widget/
    Nhúng vào cổng của tỉnh: <script src="http://127.0.0.1:$RASA_PORT/widget/widget.js" async></script>
    (trang ở tên miền khác: đặt WIDGET_ALLOWED_ORIGINS=https://cong.tinh.gov.vn, xem docs/widget.md)
  - Trang quản trị danh mục: http://127.0.0.1:$ADMIN_PORT/admin/
    Bàn tổng đài viên (chuyển công dân cho người thật): http://127.0.0.1:$ADMIN_PORT/admin/desk (docs/desk.md)
    (tài khoản đầu tiên: .venv-ml/bin/python -m admin create-admin TEN_DANG_NHAP; xem docs/admin.md)
  - API HTTP của Rasa cần khoá RASA_AUTH_TOKEN (trong .run/secrets.env): ?token=...
Ctrl-C để dừng.
MSG
if [ -t 0 ] && [ -t 1 ] && [ -z "${NO_CHAT:-}" ]; then
  .venv-ml/bin/python scripts/chat.py --port "$RASA_PORT" || true
else
  wait -n "${pids[@]}"
fi
