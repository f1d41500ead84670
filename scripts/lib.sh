# Shared shell helpers for the make targets.

# heartbeat LABEL CMD...: run CMD, printing the elapsed time every 15 s so long steps never go silent.
heartbeat() {
  local label=$1; shift
  local start=$SECONDS
  "$@" &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 5
    if kill -0 "$pid" 2>/dev/null && (( (SECONDS - start) % 15 < 5 )); then
      echo "    ... $label: $(( SECONDS - start ))s"
    fi
  done
  wait "$pid"
}
