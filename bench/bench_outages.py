"""Customers during an outage, at scale, on PostgreSQL:

- raising a ticket (API, as a customer of an active outage over 100,000
  customers, so the ticket is linked and answered automatically): p95 < 50 ms;
- resolving an outage with 5,000 linked tickets: < 5 s, and one message per
  customer (the resolution notice, no ticket email);
- the public status page under 200 concurrent visitors on `manage.py
  runserver` (what `make run` serves): p95 < 50 ms, no errors, and the
  database queries it costs, counted by PostgreSQL itself (transactions of
  the benchmark database during the run; every autocommit query is one);
- the outage-minutes report over 1,000,000 customers and 500 incidents:
  first CSV row < 1 s, whole CSV < 60 s, memory flat.

Runs in a child process with its own database (`proactive_h7_bench_outages`,
override with BENCH_OUTAGES_DATABASE_URL); the seed (customers by INSERT …
SELECT generate_series, audiences likewise) is made once and reused.
Sizes: BENCH_OUTAGE_CUSTOMERS (default 1,000,000), BENCH_OUTAGE_INCIDENTS
(500), BENCH_STATUS_CLIENTS (200), BENCH_STATUS_REQUESTS per client (20);
BENCH_OUTAGES_PARTS picks some of raise,resolve,status,report.
"""

import http.client
import os
import resource
import socket
import statistics
import subprocess
import sys
import threading
import time
from datetime import timedelta

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/proactive_h7_bench_outages"
CUSTOMERS = int(os.environ.get("BENCH_OUTAGE_CUSTOMERS", "1000000"))
INCIDENTS = int(os.environ.get("BENCH_OUTAGE_INCIDENTS", "500"))
ACTIVE_AUDIENCE = min(100_000, CUSTOMERS)
STATUS_CLIENTS = int(os.environ.get("BENCH_STATUS_CLIENTS", "200"))
STATUS_REQUESTS = int(os.environ.get("BENCH_STATUS_REQUESTS", "20"))
SAMPLES = int(os.environ.get("BENCH_OUTAGE_SAMPLES", "100"))
ACCOUNT_PREFIX = "BO-"


def main() -> int:
    env = dict(os.environ)
    env["DATABASE_URL"] = os.environ.get("BENCH_OUTAGES_DATABASE_URL", DEFAULT_URL)
    env["CELERY_BROKER_URL"] = "memory://"
    env["DEBUG"] = "false"
    # One bench customer raises every sample ticket: lift the per-account quota.
    env["TICKET_CREATE_RATE"] = "100000/hour"
    env.setdefault("LOG_LEVEL", "WARNING")
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    return subprocess.call([sys.executable, "-m", "bench.bench_outages", "--child"], env=env)


def _ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def _verdict(value: float, bound: float) -> str:
    return f"bound < {bound:g}: {'ok' if value < bound else 'OVER'}"


# --- seed -------------------------------------------------------------------------


def _insert_customers(count: int) -> None:
    """Customers by one INSERT … SELECT generate_series; every other column
    takes its model default, so fields other apps add need nothing here."""
    from django.db import connection
    from django.utils import timezone

    from customers.models import Customer

    qn = connection.ops.quote_name
    given = {
        "account_number": f"'{ACCOUNT_PREFIX}' || lpad(g::text, 8, '0')",
        "name": "'Customer ' || g",
        "email": "'bo' || g || '@example.net'",
        "phone": "'+7900' || lpad(g::text, 7, '0')",
        "location": "'Town ' || (g %% 50)",
        "created_at": "%s",
        "updated_at": "%s",
    }
    columns, expressions, params = [], [], []
    now = timezone.now()
    for field in Customer._meta.concrete_fields:
        if field.primary_key or field.is_relation and field.name not in given:
            continue
        columns.append(qn(field.column))
        if field.name in given:
            expressions.append(given[field.name])
            if given[field.name] == "%s":
                params.append(now)
        else:
            expressions.append("%s")
            params.append(field.get_db_prep_save(field.get_default(), connection))
    sql = (
        f"INSERT INTO {qn(Customer._meta.db_table)} ({', '.join(columns)}) "
        f"SELECT {', '.join(expressions)} FROM generate_series(1, %s) AS g"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, count])


def _seed() -> None:
    import random

    from django.db import connection
    from django.utils import timezone

    from customers.models import Customer
    from incidents.models import Incident, IncidentCustomer, IncidentUpdate

    if Customer.objects.filter(account_number__startswith=ACCOUNT_PREFIX).count() >= CUSTOMERS:
        return
    started = time.perf_counter()
    print(f"seeding {CUSTOMERS:,} customers and {INCIDENTS} incidents (once)…", flush=True)
    _insert_customers(CUSTOMERS)
    low = Customer.objects.filter(account_number__startswith=ACCOUNT_PREFIX).order_by("pk")
    first_id = low.values_list("pk", flat=True).first()
    rng = random.Random(7)
    now = timezone.now()
    links = connection.ops.quote_name(IncidentCustomer._meta.db_table)
    # The active outage of the ticket measurement: the first 100,000 customers.
    active = Incident.objects.create(
        kind=Incident.Kind.OUTAGE,
        title="Bench: the active outage",
        status=Incident.Status.INVESTIGATING,
        started_at=now - timedelta(minutes=40),
        eta=now + timedelta(hours=2),
        channels=["email"],
    )
    IncidentUpdate.objects.create(
        incident=active, kind="declaration", status=active.status, body="We are on it."
    )
    spans = [(active.pk, first_id, ACTIVE_AUDIENCE)]
    # The report's incidents over the last 30 days: overlapping, of every size.
    for n in range(INCIDENTS - 1):
        start = now - timedelta(minutes=rng.randint(60, 30 * 24 * 60))
        maintenance = n % 5 == 0
        incident = Incident.objects.create(
            kind=Incident.Kind.MAINTENANCE if maintenance else Incident.Kind.OUTAGE,
            title=f"Bench incident {n}",
            status=Incident.Status.COMPLETED if maintenance else Incident.Status.RESOLVED,
            started_at=start,
            resolved_at=start + timedelta(minutes=rng.randint(10, 360)),
            scheduled_start=start if maintenance else None,
            scheduled_end=start + timedelta(hours=2) if maintenance else None,
            channels=["email"],
            created_at=start,
        )
        size = rng.randint(1_000, 8_000)
        offset = rng.randint(0, max(0, CUSTOMERS - size))
        spans.append((incident.pk, first_id + offset, size))
    with connection.cursor() as cursor:
        for incident_id, start_id, size in spans:
            cursor.execute(
                f"INSERT INTO {links} (incident_id, customer_id, added_at) "  # noqa: S608
                "SELECT %s, g, %s FROM generate_series(%s, %s) AS g",
                [incident_id, now, start_id, start_id + size - 1],
            )
        cursor.execute("VACUUM ANALYZE")
    print(f"seeded in {time.perf_counter() - started:.0f} s", flush=True)


# --- measurements ----------------------------------------------------------------------


def _bench_ticket_raise() -> None:
    from django.test import Client
    from django.utils import timezone

    from accounts.models import ApprovalStatus, Role, User
    from accounts.services import token_issue
    from customers.models import Customer
    from incidents.models import Incident
    from tickets.models import Ticket

    active = Incident.objects.get(title="Bench: the active outage")
    customer = Customer.objects.filter(incident_links__incident=active).order_by("pk").first()
    if customer.user_id is None:
        user = User.objects.create(
            username=f"bench_outage_{customer.pk}",
            email=customer.email,
            role=Role.CUSTOMER,
            approval_status=ApprovalStatus.APPROVED,
            email_confirmed_at=timezone.now(),
            password="!",
        )
        Customer.objects.filter(pk=customer.pk).update(user=user)
    else:
        user = customer.user
    User.objects.filter(pk=user.pk, email_confirmed_at__isnull=True).update(
        email_confirmed_at=timezone.now()
    )
    client = Client(HTTP_AUTHORIZATION=f"Token {token_issue(user=user).key}")
    times = []
    for n in range(SAMPLES + 10):
        started = time.perf_counter()
        response = client.post(
            "/api/tickets/", {"title": f"No internet {n}"}, content_type="application/json"
        )
        if n >= 10:
            times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 201:
            raise RuntimeError(f"raise a ticket: HTTP {response.status_code}")
    linked = (
        hasattr(Ticket, "incident")
        and Ticket.objects.filter(created_by=user, incident=active).exists()
    )
    Ticket.objects.filter(created_by=user).delete()
    what = "with link + automatic reply" if linked else "NOT linked (linking not merged yet)"
    print(
        f"raise a ticket during a 100,000-customer outage ({what}): "
        f"p50 {statistics.median(times):.1f} p95 {_p95(times):.1f} ms "
        f"{_verdict(_p95(times), 50)} ms",
        flush=True,
    )


def _bench_resolve() -> None:
    """An outage over 5,000 customers, each with a linked open ticket:
    resolving it resolves the tickets, and each customer hears of it once
    (the resolution notice; no ticket email)."""
    from django.db import transaction
    from django.utils import timezone

    from accounts.models import ApprovalStatus, Role, User
    from customers.models import Customer
    from delivery.models import Message
    from incidents.models import Incident
    from incidents.services import incident_declare, incident_resolve
    from tickets.models import Status, Ticket

    admin, _ = User.objects.get_or_create(
        username="bench_outage_admin",
        defaults={"role": Role.ADMIN, "approval_status": ApprovalStatus.APPROVED},
    )
    ids = list(
        Customer.objects.filter(account_number__startswith=ACCOUNT_PREFIX)
        .order_by("-pk")
        .values_list("pk", flat=True)[:5000]
    )
    outage = incident_declare(
        created_by=admin,
        kind=Incident.Kind.OUTAGE,
        title="Bench: resolve with 5,000 tickets",
        scope={"customer_ids": ids},
        body="A cable is cut.",
        notify=False,
    )
    now = timezone.now()
    Ticket.objects.bulk_create(
        Ticket(
            title="No internet",
            customer_id=pk,
            status=Status.OPEN,
            incident=outage,
            due_at=now + timedelta(days=1),
            created_at=now,
        )
        for pk in ids
    )
    started_at = timezone.now()
    started = time.perf_counter()
    with transaction.atomic():
        incident_resolve(incident=outage, created_by=admin, body="The cable is repaired.")
    took = time.perf_counter() - started
    resolved = Ticket.objects.filter(incident=outage, status=Status.RESOLVED).count()
    sent = Message.objects.filter(customer_id__in=ids, created_at__gte=started_at)
    notices = sent.filter(notification__incident=outage).count()
    ticket_emails = sent.filter(notification__isnull=True).count()
    print(
        f"resolve an outage with 5,000 linked tickets: {took:.2f} s ({_verdict(took, 5)} s); "
        f"{resolved:,} tickets resolved; messages to those customers: {notices:,} resolution "
        f"notices (one per customer and channel; may be written later by the worker), "
        f"{ticket_emails} ticket emails",
        flush=True,
    )
    Ticket.objects.filter(incident=outage).delete()


def _bench_report() -> None:
    from django.test import Client

    from accounts.models import ApprovalStatus, Role, User

    admin, _ = User.objects.get_or_create(
        username="bench_outage_admin",
        defaults={"role": Role.ADMIN, "approval_status": ApprovalStatus.APPROVED},
    )
    client = Client()
    client.force_login(admin)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu_before = time.process_time()
    started = time.perf_counter()
    response = client.get("/api/reports/outage-minutes/", {"format": "csv"})
    chunks = iter(response.streaming_content)
    next(chunks)  # the header
    next(chunks)  # the first customer
    first = time.perf_counter() - started
    rows = 2
    for _ in chunks:
        rows += 1
    whole = time.perf_counter() - started
    cpu = time.process_time() - cpu_before
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"outage-minutes CSV, {rows - 1:,} customers x {INCIDENTS} incidents: "
        f"first row {first:.2f} s ({_verdict(first, 1)} s), whole {whole:.1f} s "
        f"({_verdict(whole, 60)} s; {cpu:.1f} s of it this process's CPU, the rest waiting for "
        f"the database or a CPU), peak memory grew {(rss_after - rss_before) / 1024:.0f} MB",
        flush=True,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_activity() -> tuple[int, int]:
    """(transactions, sessions) of the benchmark database so far, as
    PostgreSQL counts them: every autocommit query is a transaction."""
    import psycopg

    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        row = conn.execute(
            "SELECT xact_commit + xact_rollback, sessions FROM pg_stat_database "
            "WHERE datname = current_database()"
        ).fetchone()
    return int(row[0]), int(row[1])


def _server(kind: str, port: int) -> subprocess.Popen:
    env = os.environ.copy()
    if kind == "runserver":
        command = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]
    else:
        # Production's way: several processes share one cached document in Redis.
        env["CACHE_URL"] = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            "2",
            "--threads",
            "32",
            "--backlog",
            "2048",
        ]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _bench_status_page(kind: str) -> None:
    port = _free_port()
    server = _server(kind, port)
    try:
        _wait_for(port)
        for _ in range(4):
            _get(port)  # built once; the run measures the steady state
        time.sleep(2)  # idle backends report their statistics
        # What the database does meanwhile without any visitor (autovacuum,
        # other idle sessions), to tell apart from what the visitors cost.
        idle_start = _database_activity()
        time.sleep(3)
        idle = _database_activity()[0] - idle_start[0] - 1
        before = _database_activity()
        latencies: list[float] = []
        errors: list[str] = []
        lock = threading.Lock()

        def visitor():
            mine, failed = [], []
            for _ in range(STATUS_REQUESTS):
                started = time.perf_counter()
                try:
                    status = _get(port)
                    if status != 200:
                        failed.append(str(status))
                except OSError as exc:
                    failed.append(type(exc).__name__)
                mine.append((time.perf_counter() - started) * 1000)
            with lock:
                latencies.extend(mine)
                errors.extend(failed)

        threads = [threading.Thread(target=visitor) for _ in range(STATUS_CLIENTS)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        time.sleep(2)
        after = _database_activity()
        # Our own statistics read is one transaction and one session.
        queries = after[0] - before[0] - 1
        print(
            f"/status/ on {kind}, {STATUS_CLIENTS} concurrent visitors x {STATUS_REQUESTS}: "
            f"{len(latencies) / elapsed:.0f} req/s, p50 {statistics.median(latencies):.1f} "
            f"p95 {_p95(latencies):.1f} ms ({_verdict(_p95(latencies), 50)} ms), errors "
            f"{len(errors)}; database: {queries} transactions in {elapsed:.1f} s "
            f"(with no visitor: {idle} in 3 s) (bound: <= 1 query per 10 s)",
            flush=True,
        )
    finally:
        server.terminate()
        server.wait(timeout=10)


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("runserver did not start")


def _get(port: int) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/status/")
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def _child() -> int:
    _ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    _seed()
    parts = os.environ.get("BENCH_OUTAGES_PARTS", "raise,resolve,status,report").split(",")
    if "raise" in parts:
        _bench_ticket_raise()
    if "resolve" in parts:
        _bench_resolve()
    if "status" in parts:
        _bench_status_page("gunicorn")
        _bench_status_page("runserver")
    if "report" in parts:
        _bench_report()
    return 0


if __name__ == "__main__" and "--child" in sys.argv:
    sys.exit(_child())
