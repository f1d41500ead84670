#!/usr/bin/env bash
# Build the web chat widget into widget/dist/ (widget.js + demo.html), which the Rasa server
# serves at /widget/. Installs Debian's nodejs/npm only when node or npm is missing; runs
# `npm ci` only when the lock file changed and `npm run build` only when the sources changed
# (a stamp in widget/dist/ holds the hash of the sources and the lock file).
set -euo pipefail
cd "$(dirname "$0")/../widget"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "==> apt-get install nodejs npm (for the web widget build)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq nodejs npm >/dev/null
fi

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 18 ]; then
  echo "widget: Node.js >= 18 is needed to build (found $(node -v)); install a newer nodejs" >&2
  exit 1
fi

# Every input of the build, names included, in a stable order.
inputs=(package.json package-lock.json build.mjs demo.html)
while IFS= read -r f; do inputs+=("$f"); done < <(find src -type f | LC_ALL=C sort)
hash=$(sha256sum "${inputs[@]}" | sha256sum | cut -d' ' -f1)
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
stamp=dist/.build-stamp

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$hash" ] && [ -s dist/widget.js ] && [ -s dist/demo.html ]; then
  echo "==> widget: up to date (widget/dist/)"
  exit 0
fi

start=$SECONDS
if [ ! -f node_modules/.tthc-lock ] || [ "$(cat node_modules/.tthc-lock)" != "$lock_hash" ]; then
  echo "==> widget: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > node_modules/.tthc-lock
fi
echo "==> widget: npm run build"
rm -f "$stamp"
mkdir -p dist
npm run --silent build
cp demo.html dist/demo.html
echo "$hash" > "$stamp"
echo "==> widget: built widget/dist/widget.js ($(wc -c < dist/widget.js) bytes) in $(( SECONDS - start )) s"
