#!/usr/bin/env bash
# A throwaway PostgreSQL 15 (Debian's package) on loopback for the storage tests.
#   scripts/pg_test.sh start   # initdb (first time) + start on 127.0.0.1:$PG_TEST_PORT; prints the SQLAlchemy URL
#   scripts/pg_test.sh stop
# The data directory (PG_TEST_DIR, default /tmp/tthc-pg-test) is owned by the user the server runs as:
# PostgreSQL refuses to run as root, so under root it runs as the "postgres" system user the package creates.
set -euo pipefail
cd "$(dirname "$0")/.."
PGBIN="${PGBIN:-/usr/lib/postgresql/15/bin}"
DIR="${PG_TEST_DIR:-/tmp/tthc-pg-test}"
PORT="${PG_TEST_PORT:-55432}"
if [ "$(id -u)" = 0 ]; then AS=(runuser -u postgres --); OWNER=postgres; else AS=(); OWNER="$(id -un)"; fi
url() { echo "postgresql+psycopg://tthc@127.0.0.1:$PORT/tthc_test"; }
case "${1:-start}" in
  start)
    if [ ! -x "$PGBIN/initdb" ]; then
      echo "==> apt-get install postgresql-15 (storage tests)" >&2
      if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
      $SUDO apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql-15 >/dev/null
    fi
    if [ ! -f "$DIR/PG_VERSION" ]; then
      mkdir -p "$DIR" && chown "$OWNER" "$DIR" && chmod 700 "$DIR"
      "${AS[@]}" "$PGBIN/initdb" -D "$DIR" -U tthc --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    fi
    if ! "${AS[@]}" "$PGBIN/pg_ctl" -D "$DIR" status >/dev/null 2>&1; then
      "${AS[@]}" "$PGBIN/pg_ctl" -D "$DIR" -l "$DIR/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=off -c full_page_writes=off" start >/dev/null
    fi
    "${AS[@]}" "$PGBIN/psql" -h 127.0.0.1 -p "$PORT" -U tthc -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname='tthc_test'" | grep -q 1 \
      || "${AS[@]}" "$PGBIN/createdb" -h 127.0.0.1 -p "$PORT" -U tthc tthc_test
    url
    ;;
  stop)
    "${AS[@]}" "$PGBIN/pg_ctl" -D "$DIR" -m fast stop >/dev/null 2>&1 || true
    ;;
  url) url ;;
  *) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac
