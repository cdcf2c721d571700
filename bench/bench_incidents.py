"""Incident benchmarks: an outage over a 100,000-customer subtree.

1. Declare it through the API (POST /api/incidents/, first notice on):
   the request's server-side time, then the first notice's materialisation
   (what the task does right after: its 100,000 Message rows), on SQLite and
   on PostgreSQL.
2. Post an update to the same 100,000 (PostgreSQL and SQLite): the request,
   then supersession of the first notice's undelivered messages plus the
   update's materialisation (its task, whose transaction supersedes the
   first range of rows, then the task it queues for the rest).

Each run is a subprocess with its own PROACTIVE_DATA_DIR / DATABASE_URL
(PostgreSQL: a database of its own, dropped afterwards), so it never touches
the developer's database. Requests go through Django's whole handler stack
in-process (middleware, token authentication, view, serializer, database).
3. Order with a worker killed (PostgreSQL, Redis, real worker and beat
   processes, the emails captured in the outbox): an outage over
   BENCH_INCIDENTS_ORDER_CUSTOMERS (20,000) customers, an update while the
   first notice is sending, a worker SIGKILLed mid-way and a new one started,
   the resolution; then every captured copy is checked, in capture order: no
   customer got an older notice after a newer one, and every customer got
   the resolution exactly once (incidents/tests/notice_order_run.py).

Run: `make bench` or `.venv/bin/python -m bench incidents`.
Smaller for a quick try: BENCH_INCIDENTS_CUSTOMERS=20000 BENCH_INCIDENTS_ORDER_CUSTOMERS=2000.
"""

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from bench.child import pg_admin, run_child

ROOT = Path(__file__).resolve().parent.parent
PG_SERVER = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
PG_NAME = "proactive_bench_incidents"
CUSTOMERS = int(os.environ.get("BENCH_INCIDENTS_CUSTOMERS", "100000"))
ORDER_CUSTOMERS = int(os.environ.get("BENCH_INCIDENTS_ORDER_CUSTOMERS", "20000"))
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
ORDER_TIMEOUT = float(os.environ.get("BENCH_INCIDENTS_ORDER_TIMEOUT", "1800"))
SITES = 100
BOUNDS = {
    "sqlite_declare_api_ms": 200.0,
    "sqlite_first_notice_materialised_s": 1.0,
    "postgresql_declare_api_ms": 200.0,
    "postgresql_first_notice_materialised_s": 3.0,
    "postgresql_update_supersede_and_materialise_s": 3.0,
}
# The order check: these figures must be exactly zero.
ZERO_GOALS = (
    "order_failed",
    "order_out_of_order",
    "order_missing_latest",
    "order_latest_more_than_once",
)


# --------------------------------------------------------------- the parent


def _worker(env: dict[str, str], mode: str = "worker") -> dict:
    return run_child("bench.bench_incidents", [mode], env)


def _pg_admin(sql: str) -> None:
    pg_admin(PG_SERVER, sql)


def main() -> int:
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-incidents-") as tmp:
        print(f"SQLite: an outage over {CUSTOMERS} customers …", flush=True)
        sqlite = _worker({"PROACTIVE_DATA_DIR": tmp, "DATABASE_URL": ""})
        figures.update({f"sqlite_{k}": v for k, v in sqlite.items()})
    try:
        _pg_admin(f"DROP DATABASE IF EXISTS {PG_NAME}")
        _pg_admin(f"CREATE DATABASE {PG_NAME}")
    except Exception as exc:
        print(f"PostgreSQL is not reachable at {PG_SERVER}: {exc}; skipping its figures.")
        return _report(figures)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-incidents-") as tmp:
            print(f"PostgreSQL: an outage over {CUSTOMERS} customers …", flush=True)
            env = {"DATABASE_URL": f"{PG_SERVER}/{PG_NAME}", "PROACTIVE_DATA_DIR": tmp}
            pg = _worker(env)
            figures.update({f"postgresql_{k}": v for k, v in pg.items()})
        _pg_admin(f"DROP DATABASE IF EXISTS {PG_NAME} WITH (FORCE)")
        _pg_admin(f"CREATE DATABASE {PG_NAME}")
        with tempfile.TemporaryDirectory(prefix="bench-incidents-") as tmp:
            print(
                f"PostgreSQL: {ORDER_CUSTOMERS} customers told with a worker killed …", flush=True
            )
            env = {"DATABASE_URL": f"{PG_SERVER}/{PG_NAME}", "PROACTIVE_DATA_DIR": tmp}
            try:
                order = _worker(env, mode="order")
            except RuntimeError as exc:
                print(f"The order check failed: {exc}", flush=True)
                order = {"failed": 1}
            figures.update({f"order_{k}": v for k, v in order.items()})
    finally:
        _pg_admin(f"DROP DATABASE IF EXISTS {PG_NAME} WITH (FORCE)")
    return _report(figures)


def _report(figures: dict) -> int:
    print(f"\nIncident figures, {CUSTOMERS} affected customers (goal in brackets):")
    failures = []
    for name, value in figures.items():
        bound = BOUNDS.get(name)
        suffix = f"  [< {bound:g}]" if bound else ""
        if name in ZERO_GOALS:
            suffix = "  [0]"
            if value:
                failures.append(f"{name} = {value} (goal 0)")
        print(f"  {name:<48} {value:>10.3f}{suffix}")
        if bound and value > bound:
            failures.append(f"{name} = {value:.3f} over the goal {bound:g}")
    for failure in failures:
        print(f"  OVER GOAL: {failure}")
    return 1 if failures else 0


# --------------------------------------------------------------- the worker

SEED_SQL = """
INSERT INTO customers_customer
    (account_number, name, email, phone, operator_code, location, last_mile_site_id,
     service_type_id, timezone, contact_window_start, contact_window_end, email_opt_in,
     sms_opt_in, is_active, created_at, updated_at)
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %(rows)s)
SELECT 'ACC-' || i, 'Customer ' || i, 'customer' || i || '@example.net', '', '',
       'Moscow', %(first_site)s + (i %% %(sites)s), NULL, 'Europe/Moscow', '00:00', '00:00',
       TRUE, TRUE, TRUE, %(now)s, %(now)s
FROM n
"""


def _seed(rows: int = CUSTOMERS) -> None:
    from django.db import connection
    from django.utils import timezone

    from customers.models import Site
    from customers.services import site_create, site_tree_bulk_create

    root = site_create(code="POP-1", name="Moscow POP", location="Moscow")
    leaves = site_tree_bulk_create(
        sites=[
            Site(code=f"LM-{n:03d}", name=f"Last mile {n}", location="Moscow", parent=root)
            for n in range(SITES)
        ]
    )
    first = min(site.pk for site in leaves)
    assert max(site.pk for site in leaves) == first + SITES - 1
    with connection.cursor() as cursor:
        cursor.execute(
            SEED_SQL,
            {
                "rows": rows,
                "first_site": first,
                "sites": SITES,
                "now": connection.ops.adapt_datetimefield_value(timezone.now()),
            },
        )
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM ANALYZE customers_customer")


def _timed_post(client, url: str, payload: dict, headers: dict) -> tuple[float, dict]:
    started = time.perf_counter()
    response = client.post(url, json.dumps(payload), content_type="application/json", **headers)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code not in (200, 201):
        raise RuntimeError(f"{url} answered {response.status_code}: {response.content[:500]!r}")
    return elapsed, response.json()


def worker() -> dict:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from accounts.models import ApprovalStatus, Role, User
    from accounts.services import token_issue
    from delivery.models import Message, MessageStatus
    from notifications.models import Notification
    from notifications.services import notification_materialise, notification_supersede_rest

    call_command("migrate", verbosity=0)
    _seed()
    engineer = User.objects.create_user(
        username="bench_engineer",
        password="bench-password-1",
        role=Role.ENGINEER,
        approval_status=ApprovalStatus.APPROVED,
    )
    headers = {"HTTP_AUTHORIZATION": f"Token {token_issue(user=engineer).key}"}
    client = Client()
    figures: dict[str, float] = {}
    # A first request loads what every later one shares (URLconf, views,
    # serializers, the broker connection); a server has long done that when
    # an outage comes. The warm-up incident's notice is queued, never sent.
    client.get("/api/incidents/", **headers)
    _, warm = _timed_post(
        client,
        "/api/incidents/",
        {
            "kind": "outage",
            "title": "Warm-up",
            "scope": {"last_mile_site": ["LM-000"]},
            "notify": False,
            "body": "Warm-up.",
        },
        headers,
    )
    _timed_post(client, f"/api/incidents/{warm['id']}/updates/", {"body": "Warm-up."}, headers)
    _timed_post(client, f"/api/incidents/{warm['id']}/resolve/", {"notify": False}, headers)
    profiler = None
    slow: list[tuple[float, str]] = []
    if os.environ.get("BENCH_PROFILE"):
        import cProfile

        from django.db import connection

        def timed(execute, sql, params, many, context):
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                slow.append((time.perf_counter() - started, sql[:300]))

        connection.execute_wrappers.append(timed)
        profiler = cProfile.Profile()
        profiler.enable()
    declared_ms, incident = _timed_post(
        client,
        "/api/incidents/",
        {
            "kind": "outage",
            "title": "Fibre cut at the Moscow POP",
            "scope": {"last_mile_site": ["POP-1"]},
            "body": "Dear {{ customer.name }}, we are investigating an outage.",
        },
        headers,
    )
    figures["declare_api_ms"] = declared_ms
    if profiler is not None:
        import pstats

        profiler.disable()
        connection.execute_wrappers.remove(timed)
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)
        for seconds, sql in sorted(slow, reverse=True)[:8]:
            print(f"{seconds * 1000:8.1f} ms  {sql}", file=sys.stderr)
    if incident["affected_count"] != CUSTOMERS:
        raise RuntimeError(f"affected_count {incident['affected_count']} != {CUSTOMERS}")
    first = Notification.objects.get(pk=incident["updates"][0]["notification"])
    started = time.perf_counter()
    notification_materialise(notification=first)
    figures["first_notice_materialised_s"] = time.perf_counter() - started
    if Message.objects.filter(notification=first).count() != CUSTOMERS:
        raise RuntimeError("the first notice did not reach every customer")

    update_ms, update = _timed_post(
        client,
        f"/api/incidents/{incident['id']}/updates/",
        {"body": "The cause is found; crews are on site.", "status": "identified"},
        headers,
    )
    figures["update_api_ms"] = update_ms
    second = Notification.objects.get(pk=update["notification"])
    started = time.perf_counter()
    notification_materialise(notification=second)
    figures["update_materialise_s"] = time.perf_counter() - started
    # Its transaction superseded the first range; the task it queued (not
    # run here: no worker) supersedes the rest, here in this process.
    notification_supersede_rest(notification_id=second.pk)
    figures["update_supersede_and_materialise_s"] = time.perf_counter() - started
    superseded = Message.objects.filter(notification=first, status=MessageStatus.SUPERSEDED).count()
    if superseded != CUSTOMERS:
        raise RuntimeError(f"{superseded} of {CUSTOMERS} first notices superseded")
    return figures


def order() -> dict:
    """Phase 3, in its own process: the run with a worker killed over a
    fleet of real workers, and the check of the copies they captured."""
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    import redis
    from django.core.management import call_command

    from accounts.models import ApprovalStatus, Role, User
    from config.celery import app
    from delivery.tests.fleet import Fleet
    from incidents.tests.notice_order_run import run_with_a_worker_killed

    call_command("migrate", verbosity=0)
    _seed(ORDER_CUSTOMERS)
    engineer = User.objects.create_user(
        username="bench_engineer", role=Role.ENGINEER, approval_status=ApprovalStatus.APPROVED
    )
    redis.Redis.from_url(REDIS_URL).flushdb()
    app.conf.update(broker_url=REDIS_URL, broker_write_url=REDIS_URL, broker_read_url=REDIS_URL)
    # No mail server: the workers capture every email in the outbox, whose
    # rows say in which order the copies left.
    fleet = Fleet(
        database_url=os.environ["DATABASE_URL"],
        broker_url=REDIS_URL,
        data_dir=Path(os.environ["PROACTIVE_DATA_DIR"]) / "fleet",
        env={"DELIVERY_LEASE_SECONDS": "10"},
        log_level="WARNING",
    )
    try:
        for name in ("w0", "w1"):
            fleet.start_worker(name, celery_log_level="INFO")  # its "ready." line
        fleet.start_beat()
        fleet.wait_ready()
        report = run_with_a_worker_killed(
            fleet=fleet,
            scope={"last_mile_site": ["POP-1"]},
            created_by=engineer,
            timeout=ORDER_TIMEOUT,
        )
    finally:
        fleet.stop()
    return report.as_dict()


if __name__ == "__main__":
    if sys.argv[1:] == ["worker"]:
        print(json.dumps(worker()), flush=True)
    elif sys.argv[1:] == ["order"]:
        print(json.dumps(order()), flush=True)

    else:
        sys.exit(main())
