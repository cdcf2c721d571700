"""Customers during an outage, at scale, on PostgreSQL:

- raising a ticket (API, as a customer of an active outage over 100,000
  customers, so the ticket is linked and answered automatically): p95 < 50 ms;
- resolving an outage with 5,000 linked tickets (`POST
  /api/incidents/{id}/resolve/`): < 5 s; then the resolution notice is
  materialised by the worker's task body, run here, and each customer must
  have exactly one message about it and no ticket email;
- the public status page under 200 concurrent keep-alive visitors on
  `make run`'s own web server command (scripts/run.py: granian, 1 process,
  Django in 4 threads):
  p95 < 50 ms, no errors, and the database queries it costs, counted by
  PostgreSQL itself (transactions of the benchmark database during the run;
  every autocommit query is one); the visitors are asyncio connections in
  BENCH_STATUS_CLIENT_PROCESSES (2) processes whose CPU is printed, and the
  same command serving a trivial WSGI app gives the ceiling beside it;
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
import json
import math
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
from datetime import timedelta

from bench.child import pg_ensure_database
from bench.common import customer_account

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/proactive_h7_bench_outages"
CUSTOMERS = int(os.environ.get("BENCH_OUTAGE_CUSTOMERS", "1000000"))
INCIDENTS = int(os.environ.get("BENCH_OUTAGE_INCIDENTS", "500"))
ACTIVE_AUDIENCE = min(100_000, CUSTOMERS)
STATUS_CLIENTS = int(os.environ.get("BENCH_STATUS_CLIENTS", "200"))
STATUS_REQUESTS = int(os.environ.get("BENCH_STATUS_REQUESTS", "20"))
STATUS_PERIOD = float(os.environ.get("STATUS_CACHE_SECONDS", "10"))
STATUS_CLIENT_PROCESSES = int(os.environ.get("BENCH_STATUS_CLIENT_PROCESSES", "2"))
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
    return subprocess.call(
        [sys.executable, "-m", "bench.bench_tickets_outages", "--child"], env=env
    )


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
        _mark_audiences_frozen()
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
    _mark_audiences_frozen()
    print(f"seeded in {time.perf_counter() - started:.0f} s", flush=True)


def _mark_audiences_frozen() -> None:
    """The seed writes the audiences itself: say they are frozen, as the
    declaration's freeze would (else every ticket would read the scope)."""
    from django.db.models import F

    from incidents.models import Incident

    Incident.objects.filter(audience_frozen_at__isnull=True, title__startswith="Bench").update(
        audience_frozen_at=F("created_at")
    )


# --- measurements ----------------------------------------------------------------------


def _bench_ticket_raise() -> None:
    from django.test import Client
    from django.utils import timezone

    from accounts.models import User
    from accounts.services import token_issue
    from customers.models import Customer
    from incidents.models import Incident
    from tickets.models import Ticket

    active = Incident.objects.get(title="Bench: the active outage")
    customer = Customer.objects.filter(incident_links__incident=active).order_by("pk").first()
    user = customer_account(customer, username=f"bench_outage_{customer.pk}")
    User.objects.filter(pk=user.pk, email_confirmed_at__isnull=True).update(
        email_confirmed_at=timezone.now()
    )
    client = Client(HTTP_AUTHORIZATION=f"Token {token_issue(user=user).key}")
    times, cpu = [], []
    for n in range(SAMPLES + 10):
        started, cpu_started = time.perf_counter(), time.process_time()
        response = client.post(
            "/api/tickets/", {"title": f"No internet {n}"}, content_type="application/json"
        )
        if n >= 10:
            times.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - cpu_started) * 1000)
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
        f"{_verdict(_p95(times), 50)} ms; this process's CPU per ticket p50 "
        f"{statistics.median(cpu):.1f} ms, the rest waits for PostgreSQL or a CPU "
        f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)",
        flush=True,
    )


def _bench_resolve() -> None:
    """An outage over 5,000 customers, each with a linked open ticket:
    `POST /api/incidents/{id}/resolve/` resolves the tickets; then the
    worker's task body materialises the resolution notice here (the broker
    is `memory://`, no worker runs), and each customer must have exactly one
    message about the resolution and no ticket email."""
    from django.db.models import Count
    from django.test import Client
    from django.utils import timezone

    from accounts.models import ApprovalStatus, Role, User
    from customers.models import Customer
    from delivery.models import Message
    from incidents.models import Incident
    from incidents.services import incident_audience_freeze, incident_declare
    from notifications.models import Notification
    from notifications.tasks import materialise_notification
    from tickets.models import Comment, Status, Ticket, TicketEvent

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
    # What the first notice's task or the beat sweep does a moment later:
    # tickets link only to customers of the frozen audience.
    incident_audience_freeze(incident_id=outage.pk)
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
    client = Client()
    client.force_login(admin)
    client.get("/api/incidents/", {"page_size": 1})  # the first request's imports
    started_at = timezone.now()
    started = time.perf_counter()
    response = client.post(
        f"/api/incidents/{outage.pk}/resolve/",
        {"body": "The cable is repaired."},
        content_type="application/json",
    )
    took = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"resolve: HTTP {response.status_code} {response.content[:300]!r}")
    tickets = Ticket.objects.filter(incident=outage)
    resolved = tickets.filter(status=Status.RESOLVED).count()
    comments = Comment.objects.filter(ticket__incident=outage, internal=False).count()
    events = TicketEvent.objects.filter(ticket__incident=outage, kind="resolved").count()
    # The worker's part, run here: materialise the resolution notice.
    notices = Notification.objects.filter(incident=outage, materialized_at__isnull=True)
    materialise_started = time.perf_counter()
    for notification_id in notices.values_list("pk", flat=True):
        materialise_notification(notification_id)
    materialised = time.perf_counter() - materialise_started
    sent = Message.objects.filter(customer_id__in=ids, created_at__gte=started_at)
    per_customer = (
        sent.filter(notification__incident=outage)
        .values("customer_id")
        .annotate(n=Count("pk"))
        .values_list("n", flat=True)
    )
    told_once = sum(1 for n in per_customer if n == 1)
    told_more = sum(1 for n in per_customer if n > 1)
    ticket_emails = sent.filter(notification__isnull=True).count()
    once = told_once == len(ids) and not told_more and not ticket_emails
    print(
        f"resolve an outage with 5,000 linked tickets (POST /api/incidents/{{id}}/resolve/): "
        f"{took:.2f} s ({_verdict(took, 5)} s); {resolved:,} tickets resolved with "
        f"{comments:,} public comments and {events:,} events; resolution notice materialised "
        f"by the worker's task in {materialised:.2f} s: {told_once:,} of {len(ids):,} "
        f"customers told exactly once, {told_more} more than once, {ticket_emails} ticket "
        f"emails ({'ok' if once else 'WRONG'})",
        flush=True,
    )
    Message.objects.filter(notification__incident=outage).delete()
    tickets.delete()


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


def _make_run_web_command(port: int, app: str | None = None) -> list[str]:
    """`make run`'s own web server command (scripts/run.py), on our port;
    `app` replaces the Django application to measure the server's ceiling."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "scripts" / "run.py"
    spec = importlib.util.spec_from_file_location("proactive_run", path)
    run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run)
    command = run.commands(dev=False, host="127.0.0.1", port=str(port), data_dir=Path("."))["web"]
    return [app if app and part == run.WSGI_APPLICATION else part for part in command]


def _server(command: list[str]) -> subprocess.Popen:
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def trivial_application(environ, start_response):
    """The ceiling: a WSGI app that does nothing but answer a page of the
    same size, served by the same command."""
    body = b"x" * int(os.environ.get("BENCH_TRIVIAL_BYTES", "1200"))
    start_response("200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(body)))])
    return [body]


def _load(port: int, path: str) -> dict:
    """STATUS_CLIENTS keep-alive connections (browsers keep theirs) sending
    STATUS_REQUESTS GETs each, one after the other, from STATUS_CLIENT_PROCESSES
    asyncio processes; their latencies, errors and CPU."""
    processes = max(1, min(STATUS_CLIENT_PROCESSES, STATUS_CLIENTS))
    base, extra = divmod(STATUS_CLIENTS, processes)
    shares = [base + (n < extra) for n in range(processes)]
    started = time.perf_counter()
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.bench_tickets_outages",
                "--load",
                str(port),
                path,
                str(share),
            ],
            stdout=subprocess.PIPE,
        )
        for share in shares
    ]
    results = [json.loads(child.communicate()[0]) for child in children]
    elapsed = time.perf_counter() - started
    latencies = [ms for r in results for ms in r["latencies"]]
    return {
        "elapsed": elapsed,
        "latencies": latencies,
        "errors": sum(r["errors"] for r in results),
        "client_cpu": sum(r["cpu"] for r in results),
        "processes": processes,
    }


def _load_child(port: int, path: str, connections: int) -> None:
    """One load process: `connections` asyncio keep-alive connections."""
    import asyncio

    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    latencies: list[float] = []
    errors = 0

    async def visitor() -> None:
        nonlocal errors
        reader = writer = None
        for _ in range(STATUS_REQUESTS):
            started = time.perf_counter()
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await reader.readexactly(length)
                if not head.startswith(b"HTTP/1.1 200"):
                    errors += 1
                if b"connection: close" in head.lower():
                    writer.close()
                    writer = None
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                errors += 1
                writer = None
            latencies.append((time.perf_counter() - started) * 1000)
        if writer is not None:
            writer.close()

    async def crowd() -> None:
        await asyncio.gather(*(visitor() for _ in range(connections)))

    cpu = time.process_time()
    asyncio.run(crowd())
    result = {"latencies": latencies, "errors": errors, "cpu": time.process_time() - cpu}
    sys.stdout.write(json.dumps(result))


def _measure(port: int, path: str) -> dict:
    _wait_for(port)
    for _ in range(4):
        _get(port, path)  # built once; the run measures the steady state
    return _load(port, path)


def _figures(run: dict) -> str:
    latencies = run["latencies"]
    return (
        f"{len(latencies) / run['elapsed']:.0f} req/s, p50 {statistics.median(latencies):.1f} "
        f"p95 {_p95(latencies):.1f} ms"
    )


def _bench_status_page() -> None:
    """`/status/` on `make run`'s web server under STATUS_CLIENTS concurrent
    visitors; the database's transactions meanwhile (PostgreSQL's count);
    then the same command serving a trivial WSGI app: the ceiling."""
    from django.db import connections

    # Our own connection's statistics (the migrations check) would reach
    # PostgreSQL's counters during the run: a closed session reports at once.
    connections.close_all()
    port = _free_port()
    server = _server(_make_run_web_command(port))
    # An idle backend reports its counts to PostgreSQL's statistics up to
    # 10 s after its last statement, so the snapshots wait that long after
    # any activity: the counts are then exact.
    flush = 11
    try:
        _wait_for(port)
        _get(port, "/status/")
        # Past one period, so the refresher thread has made its first rebuild
        # (and its connection): the run measures the steady state.
        time.sleep(STATUS_PERIOD + 1)
        _get(port, "/status/")
        time.sleep(flush)
        # What the database does meanwhile without any visitor (autovacuum,
        # other sessions), to tell apart from what the visitors cost.
        idle_start = _database_activity()
        time.sleep(5)
        before = _database_activity()
        idle = before[0] - idle_start[0] - 1
        run = _measure(port, "/status/")
        time.sleep(flush)
        after = _database_activity()
    finally:
        server.terminate()
        server.wait(timeout=10)
    # Our own statistics read is one transaction.
    queries = after[0] - before[0] - 1
    allowed = max(1, math.ceil(run["elapsed"] / STATUS_PERIOD))
    # What the database did anyway meanwhile, at the rate seen with no visitor.
    background = round(max(idle, 0) / 5 * (run["elapsed"] + flush))
    cost = max(queries - background, 0)
    latencies = run["latencies"]
    print(
        f"/status/ on make run's web server (granian, 1 process, 4 threads), {STATUS_CLIENTS} "
        f"concurrent keep-alive visitors x {STATUS_REQUESTS}: {_figures(run)} "
        f"({_verdict(_p95(latencies), 50)} ms), errors {run['errors']}; database: {queries} "
        f"transactions in {run['elapsed']:.1f} s + {flush} s (with no visitor: {idle} in 5 s) "
        f"= about {cost} for the visitors (bound: <= 1 query per {STATUS_PERIOD:g} s, "
        f"{allowed} here: {'ok' if cost <= allowed else 'OVER'}); load client: "
        f"{run['processes']} asyncio processes, {run['client_cpu']:.1f} s CPU in "
        f"{run['elapsed']:.1f} s",
        flush=True,
    )
    port = _free_port()
    server = _server(
        _make_run_web_command(port, app="bench.bench_tickets_outages:trivial_application")
    )
    try:
        ceiling = _measure(port, "/")
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(
        f"  the ceiling, a trivial WSGI app on the same command and client: {_figures(ceiling)}, "
        f"errors {ceiling['errors']}; client {ceiling['client_cpu']:.1f} s CPU "
        f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)",
        flush=True,
    )


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the web server did not start")


def _get(port: int, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def _child() -> int:
    pg_ensure_database(os.environ["DATABASE_URL"])
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
        _bench_status_page()
    if "report" in parts:
        _bench_report()
    return 0


if __name__ == "__main__" and "--child" in sys.argv:
    sys.exit(_child())
if __name__ == "__main__" and "--load" in sys.argv:
    _load_child(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
