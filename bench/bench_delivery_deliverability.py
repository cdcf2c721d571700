"""Deliverability benchmarks (`python -m bench deliverability`; also part of
`python -m bench delivery`).

Figures, each printed beside its goal:
- end to end, 20,000 recipients with 10% of them on the suppression list and
  5% without an email address (one SMS each instead, the fallback), 2 worker
  processes on PostgreSQL + Redis: throughput ≥ 90% of the plain run's,
  measured in the same run on 20,000 other customers;
- the suppression join: writing the rows takes one INSERT per channel and
  part (a notice is written in parts, the first MATERIALISE_FIRST_PART
  customers dispatched at once, the rest in one more statement on
  PostgreSQL), none per message;
- EMAIL_MAX_PER_SECOND held within 5% by 2 workers (4 lanes) together:
  the steady rate (the middle 90% of the sends) of a limited run. The limit
  must be one the fleet could exceed, so by default it is 40% of the plain
  run's rate measured just before (BENCH_RATE_LIMIT fixes it instead), over
  about 30 seconds of sending (BENCH_RATE_COUNT).

Own PostgreSQL database `proactive_deliverability_bench`, own Redis database
(BENCH_REDIS_URL). BENCH_DELIVERABILITY_COUNT (default 20000),
BENCH_RATE_LIMIT and BENCH_RATE_COUNT.
"""

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from bench.bench_delivery import PG_BASE, REDIS_URL, _customers, _row, _settle
from bench.child import pg_database_recreate, run_phase, sinks_start, sinks_stop

PG_DB = "proactive_deliverability_bench"
COUNT = int(os.environ.get("BENCH_DELIVERABILITY_COUNT", "20000"))
RATE_LIMIT = float(os.environ.get("BENCH_RATE_LIMIT") or 0)  # 0: 40% of the plain rate
RATE_COUNT = int(os.environ.get("BENCH_RATE_COUNT") or 0)  # 0: about 30 s worth


def main() -> int:
    url = PG_BASE.rstrip("/") + "/" + PG_DB
    with tempfile.TemporaryDirectory() as folder:
        env = {
            "DATABASE_URL": url,
            "PROACTIVE_DATA_DIR": folder,
            "CELERY_BROKER_URL": REDIS_URL,
            "BENCH_FRESH_DB": "1",
        }
        result = run_phase("bench.bench_delivery_deliverability", "responsible", env)
    plain, responsible, limited = result["plain"], result["responsible"], result["limited"]
    ratio = responsible["rate"] / plain["rate"]
    parts = responsible["parts"]
    limit = limited["limit"]
    deviation = abs(limited["rate"] - limit) / limit
    checks = [
        (f"plain email, {COUNT:,} recipients, 2 workers", f"{plain['rate']:.0f} /s", "", True),
        (
            f"10% suppressed + 5% SMS fallback, {COUNT:,} recipients",
            f"{responsible['rate']:.0f} /s",
            "",
            True,
        ),
        ("  of which sent: email / SMS / suppressed", responsible["split"], "", True),
        ("with suppression and fallback / plain", f"{ratio:.2f}", "≥ 0.90", ratio >= 0.90),
        (
            f"INSERTs to write the rows (email + fallback, {parts} parts)",
            str(responsible["inserts"]),
            f"≤ {2 * parts}, none per message",
            responsible["inserts"] <= 2 * parts,
        ),
        (
            f"EMAIL_MAX_PER_SECOND={limit:.0f}, {limited['count']:,} msgs, 2 workers (steady)",
            f"{limited['rate']:.1f} /s",
            f"within 5% of {limit:.0f}",
            deviation <= 0.05,
        ),
        ("  whole run, first to last send", f"{limited['whole']:.1f} /s", "", True),
        ("  busiest second", str(limited["busiest"]), f"≤ {limit:.0f} + 4 made-up slots", True),
    ]
    failures = 0
    for label, value, bound, ok in checks:
        failures += not ok
        print(_row(label, value, bound, ok), flush=True)
    print(f"\nload average during the run: {result['load']}", flush=True)
    return 1 if failures else 0


# --- the child ----------------------------------------------------------------


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    pg_database_recreate(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _prepare_responsible(location: str) -> None:
    """10% of the customers' addresses suppressed (and no phone to fall
    back to), 5% without email (one SMS each instead)."""
    from customers.models import Customer
    from delivery.models import Suppression

    ids = list(Customer.objects.filter(location=location).order_by("pk").values_list("pk", "email"))
    listed = [email for n, (_, email) in enumerate(ids) if n % 20 in (0, 1)]  # 10%
    # The customers were just made: the addresses are already lower case.
    no_email = [pk for n, (pk, _) in enumerate(ids) if n % 20 == 2]  # 5%
    Suppression.objects.bulk_create(
        Suppression(channel="email", address=email, reason="hard_bounce") for email in listed
    )
    Customer.objects.filter(pk__in=no_email).update(email="")
    Customer.objects.filter(email__in=listed).update(phone="")


def _send(location: str, *, fallback: str | None):
    """Start a notification to the location's customers and write its rows
    here (as the materialising task would); returns the seconds until it is
    completed, the INSERT statements that wrote its rows, and it."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from notifications import services
    from notifications.models import Notification

    notification = Notification.objects.create(
        title="Works at {{ customer.location }}",
        body="Dear {{ customer.name }}, planned works on account {{ customer.account_number }}.",
        kind=Notification.Kind.MAINTENANCE,
        channels=["email"],
        fallback_channel=fallback,
        audience={"location": [location]},
        respect_contact_window=False,
        status=Notification.Status.SENDING,
    )
    started = time.perf_counter()
    Notification.objects.filter(pk=notification.pk).update(started_at=timezone.now())
    with CaptureQueriesContext(connection) as queries:
        services.notification_materialise(notification=notification)
    inserts = sum(
        1
        for q in queries.captured_queries
        if q["sql"].lstrip().startswith('INSERT INTO "delivery_message"')
    )
    finished = Notification.objects.filter(pk=notification.pk).exclude(status="sending")
    while not finished.exists():
        if time.perf_counter() - started > 900:
            raise RuntimeError("the notification was still sending after 900 s")
        time.sleep(0.02)
    return time.perf_counter() - started, inserts, notification


def _fleet(folder: Path, env: dict):
    from delivery.tests.fleet import Fleet

    fleet = Fleet(
        database_url=os.environ["DATABASE_URL"],
        broker_url=REDIS_URL,
        data_dir=folder,
        env=env,
        log_level="WARNING",
    )
    for name in ("w0", "w1"):
        fleet.start_worker(name)
    fleet.start_beat()
    fleet.wait_ready()
    return fleet


def _steady_rate(times: list[float]) -> float:
    """Sends per second over the middle 90% of a run: without the start,
    when workers pick the work up, and the end, when the last lanes finish
    alone."""
    first, last = int(len(times) * 0.05), int(len(times) * 0.95)
    return (last - first) / (times[last] - times[first])


def _busiest_second(times: list[float]) -> int:
    times, best, start = sorted(times), 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


def phase_responsible() -> dict:
    _setup()
    import redis
    from django.db.models import Count

    from delivery.models import Message
    from notifications.services import MATERIALISE_FIRST_PART

    redis.Redis.from_url(REDIS_URL).flushdb()
    _customers(COUNT, location="Plain")
    _customers(COUNT, location="Careful", start=COUNT)
    _prepare_responsible("Careful")
    _settle()
    token = "bench-token"
    sinks, (smtp_port, http_port) = sinks_start(("smtp", "http"), token=token)
    folder = Path(os.environ["PROACTIVE_DATA_DIR"])
    env = {
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
        "SMS_GATEWAY_URL": f"http://127.0.0.1:{http_port}/send",
        "SMS_GATEWAY_TOKEN": token,
    }
    try:
        fleet = _fleet(folder / "fleet", env)
        try:
            plain_seconds, _, _ = _send("Plain", fallback=None)
            _settle()
            seconds, inserts, careful = _send("Careful", fallback="sms")
        finally:
            fleet.stop()
        _settle()
        split = {
            (channel, status): n
            for channel, status, n in Message.objects.filter(notification=careful)
            .values_list("channel", "status")
            .annotate(n=Count("pk"))
            .order_by()
        }
        limit = RATE_LIMIT or max(5.0, round(COUNT / plain_seconds * 0.4))
        paced_count = RATE_COUNT or int(limit * 30)
        _customers(paced_count, location="Paced", start=2 * COUNT)
        _settle()
        fleet = _fleet(folder / "paced", {**env, "EMAIL_MAX_PER_SECOND": str(limit)})
        try:
            _, _, paced = _send("Paced", fallback=None)
        finally:
            fleet.stop()
        times = sorted(
            t.timestamp()
            for t in Message.objects.filter(notification=paced).values_list("sent_at", flat=True)
        )
        load = os.getloadavg()
    finally:
        sinks_stop(sinks)
    sent_email = split.get(("email", "sent"), 0)
    sent_sms = split.get(("sms", "sent"), 0)
    suppressed = split.get(("email", "suppressed"), 0)
    return {
        "plain": {"rate": COUNT / plain_seconds},
        "responsible": {
            "rate": COUNT / seconds,
            "inserts": inserts,
            # The first part, then the rest in one statement (PostgreSQL).
            "parts": 1 + (COUNT > MATERIALISE_FIRST_PART),
            "split": f"{sent_email} / {sent_sms} / {suppressed}",
        },
        "limited": {
            "limit": limit,
            "count": len(times),
            "rate": _steady_rate(times),
            "whole": (len(times) - 1) / (times[-1] - times[0]),
            "busiest": _busiest_second(times),
        },
        "load": [round(x, 2) for x in load],
    }


if __name__ == "__main__":
    print("RESULT " + json.dumps({"responsible": phase_responsible}[sys.argv[1]]()), flush=True)
