#!/usr/bin/env bash
# A private PostgreSQL cluster sized for a million customers, beside the
# machine's own, for the README's "Scaling" figures: the same benchmarks with
# the server settings a production database of that size would have.
#
#   scripts/pg_sized.sh start      # 127.0.0.1:${PG_SIZED_PORT:-5444}
#   BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5444 .venv/bin/python -m bench directory
#   scripts/pg_sized.sh stop       # and remove it
#
# Settings: shared_buffers ${PG_SIZED_SHARED_BUFFERS:-1GB} (a quarter of the
# RAM of a 4 GiB database host, PostgreSQL's usual starting point); everything
# else as initdb leaves it. Run as root (the cluster runs as `postgres`).
set -euo pipefail
PORT="${PG_SIZED_PORT:-5444}"
ROOT_DIR="${PG_SIZED_DIR:-/tmp/proactive-pg-sized}"
BUFFERS="${PG_SIZED_SHARED_BUFFERS:-1GB}"
BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
as_postgres() { runuser -u postgres -- "$@"; }

case "${1:-}" in
start)
    if [ ! -d "$ROOT_DIR/data" ]; then
        install -d -o postgres -g postgres "$ROOT_DIR"
        as_postgres "$BIN/initdb" -D "$ROOT_DIR/data" -A trust -U postgres -E UTF8 --no-sync >/dev/null
    fi
    as_postgres "$BIN/pg_ctl" -D "$ROOT_DIR/data" -l "$ROOT_DIR/server.log" -w -t 60 \
        -o "-p $PORT -k $ROOT_DIR -c listen_addresses=127.0.0.1 -c shared_buffers=$BUFFERS" start
    ;;
stop)
    if [ -f "$ROOT_DIR/data/postmaster.pid" ]; then
        as_postgres "$BIN/pg_ctl" -D "$ROOT_DIR/data" -m fast -w stop
    fi
    rm -rf "$ROOT_DIR"
    ;;
*)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
