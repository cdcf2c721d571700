#!/usr/bin/env bash
# The whole suite: once on the embedded default (SQLite, filesystem broker),
# then again on PostgreSQL + Redis where they are reachable (always in CI).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
PG_URL="${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/proactive}"
status=0

rm -f .coverage .coverage.*
echo "== Pass 1: SQLite + filesystem broker"
DATABASE_URL= $PY -m pytest --cov --cov-report= "$@" || status=1

pg_up=0
$PY - <<PYEOF && pg_up=1
import sys, psycopg
try:
    psycopg.connect("$PG_URL".rsplit("/", 1)[0] + "/postgres", connect_timeout=2).close()
except Exception:
    sys.exit(1)
PYEOF

if [ "$pg_up" = 1 ]; then
    echo "== Pass 2: PostgreSQL + Redis (integration tests required)"
    DATABASE_URL="$PG_URL" PROACTIVE_REQUIRE_INTEGRATION=1 \
        $PY -m pytest --cov --cov-append --cov-report= -m "not browser" "$@" || status=1
elif [ "${CI:-}" = "true" ]; then
    echo "PostgreSQL is not reachable at $PG_URL and CI=true: failing." >&2
    status=1
else
    echo "== Pass 2 skipped: PostgreSQL is not reachable at $PG_URL (integration tests did not run)"
fi

$PY -m coverage report --skip-covered --skip-empty --fail-under="${COVERAGE_MIN:-90}" || status=1
exit $status
