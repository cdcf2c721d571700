"""Load while sending (`python -m bench load`): staff keep using the site while
a large notification goes out.

On PostgreSQL and Redis, the production processes run exactly as
deploy/docker-compose.yml starts them (gunicorn, the Celery worker and
beat, DJANGO_ENV=production), mail goes to the benchmark SMTP sink. First
the send alone: a BENCH_LOAD_RECIPIENTS-recipient notice (20,000) on an
idle site. Then the same send again while BENCH_LOAD_USERS (25) simulated
staff members (Locust, headless: bench/locust_staff.py) browse the
dashboard, the lists, customers, tickets, incidents, the notification
being sent and its statistics. Printed beside their bounds:

- the staff's p95 response time < 150 ms, and 0 errors;
- the send's throughput with the staff ≥ 70 % of its rate alone;
- the whole run < 5 minutes.

Each endpoint's p95 is printed too, to find a slow page. Environment:
BENCH_LOAD_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/
proactive_bench_load; the database is dropped and made afresh from a migrated
`<name>_template`), BENCH_REDIS_URL
(default redis://127.0.0.1:6379/12, flushed), BENCH_LOAD_THINK_SECONDS (each
user's mean pause between two requests, 2), BENCH_LOAD_WARM_UP_SECONDS (how
long the staff browse before the send starts, 10; what they see then is
printed apart and not counted)."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench.child import sinks_start, sinks_stop

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/proactive_bench_load"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
RECIPIENTS = int(os.environ.get("BENCH_LOAD_RECIPIENTS", "20000"))
USERS = int(os.environ.get("BENCH_LOAD_USERS", "25"))
TICKETS = 2_000
INCIDENTS = 50
P95_BOUND_MS = 150
RATIO_BOUND = 0.70
RUN_BOUND_SECONDS = 300
WARM_UP_SECONDS = float(os.environ.get("BENCH_LOAD_WARM_UP_SECONDS", "10"))


def main() -> int:
    started = time.monotonic()
    url = os.environ.get("BENCH_LOAD_DATABASE_URL", DEFAULT_URL)
    with tempfile.TemporaryDirectory(prefix="proactive-load-") as scratch:
        env = _production_env(url, Path(scratch))
        code = subprocess.call([sys.executable, "-m", "bench.bench_load", "--child"], env=env)
    seconds = time.monotonic() - started
    ok = seconds < RUN_BOUND_SECONDS
    print(_row("whole run", f"{seconds:.0f} s", f"< {RUN_BOUND_SECONDS // 60} min", ok))
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return code or (0 if ok else 1)


def _production_env(database_url: str, scratch: Path) -> dict:
    from delivery.tests.sinks import free_port

    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_", "CELERY_", "EMAIL_", "SMS_", "DEBUG", "LOG_"))
    }
    port = free_port()
    env.update(
        {
            "DJANGO_ENV": "production",
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "SECRET_KEY": "bench-load-" + "x" * 50,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "CSRF_TRUSTED_ORIGINS": f"https://127.0.0.1:{port}",
            "PUBLIC_BASE_URL": f"https://127.0.0.1:{port}",
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": REDIS_URL,
            "PROACTIVE_DATA_DIR": str(scratch / "data"),
            # Kept between runs: collectstatic then copies only what changed.
            "STATIC_ROOT": str(ROOT / "var" / "bench-load-static"),
            "PORT": str(port),
            "PYTHONUNBUFFERED": "1",
            # Warnings and errors only: not one line per message sent.
            "LOG_LEVEL": "WARNING",
            "BENCH_LOAD_SCRATCH": str(scratch),
        }
    )
    return env


def _row(label: str, value: str, bound: str, ok: bool | None) -> str:
    verdict = "" if ok is None else ("ok" if ok else "MISSED")
    return f"  {label:<52} {value:>16}   {bound:<12} {verdict}"


# --- the child: seed, start the processes, measure ---------------------------


def _fresh_database(url: str, migrate: list[str]) -> None:
    """The database afresh, copied from a migrated template (`<name>_template`,
    brought up to date by the compose file's migrate command first: quick
    when nothing changed), so a run does not wait for every migration."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    template = f"{name}_template"
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [template]).fetchone():
            conn.execute(f'CREATE DATABASE "{template}"')
    subprocess.run(
        migrate,
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": f"{url}_template"},
        check=True,
        stdout=subprocess.DEVNULL,
    )
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')


def _seed_browsing() -> dict:
    """What staff open: 25 signed-in engineers and admins, tickets, incidents, drafts."""
    import datetime

    from django.test import Client
    from django.utils import timezone

    from accounts.models import ApprovalStatus, Role, User
    from accounts.services import token_issue
    from customers.models import Customer
    from incidents.models import Incident
    from notifications.models import Notification
    from tickets.models import Ticket

    people = {"engineers": [], "admins": []}
    for n in range(USERS):
        admin = n % 5 == 4  # one in five: the shift lead
        user = User.objects.create_user(
            f"staff{n}",
            email=f"staff{n}@example.net",
            role=Role.ADMIN if admin else Role.ENGINEER,
            approval_status=ApprovalStatus.APPROVED,
        )
        client = Client()
        client.force_login(user)
        people["admins" if admin else "engineers"].append(
            {"session": client.cookies["sessionid"].value, "token": token_issue(user=user).key}
        )
    now = timezone.now()
    customers = list(Customer.objects.order_by("pk").values_list("pk", flat=True)[:TICKETS])
    statuses = ["open", "assigned", "in_progress", "on_hold", "resolved", "closed"]
    Ticket.objects.bulk_create(
        Ticket(
            title=f"No internet at home {n}",
            customer_id=customer,
            status=statuses[n % len(statuses)],
            due_at=now + datetime.timedelta(hours=(n % 48) - 8),
        )
        for n, customer in enumerate(customers)
    )
    Incident.objects.bulk_create(
        Incident(
            kind=Incident.Kind.OUTAGE,
            title=f"Fiber cut {n}",
            status=Incident.Status.RESOLVED if n % 5 else Incident.Status.INVESTIGATING,
            scope={},
            channels=["email"],
            started_at=now - datetime.timedelta(hours=n),
        )
        for n in range(INCIDENTS)
    )
    Notification.objects.bulk_create(
        Notification(title=f"Draft {n}", body="Dear {{ customer.name }}", channels=["email"])
        for n in range(50)
    )
    return {
        **people,
        "customers": customers[:200],
        "tickets": list(Ticket.objects.values_list("pk", flat=True)[:200]),
        "incidents": list(Incident.objects.values_list("pk", flat=True)),
    }


def _healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=5) as response:  # noqa: S310
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _wait(what: str, check, processes: dict, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, process in processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode} while waiting {what}")
        if check():
            return
        time.sleep(0.25)
    raise RuntimeError(f"timed out waiting {what}")


def _browse(plan: dict, base: str, scratch: Path) -> subprocess.Popen:
    plan_path = scratch / "plan.json"
    plan_path.write_text(json.dumps(plan))
    return subprocess.Popen(
        [
            str(BIN / "locust"), "-f", str(ROOT / "bench" / "locust_staff.py"), "--headless",
            "-u", str(USERS), "-r", str(USERS), "-H", base, "--run-time", "10m",
            "--only-summary", "--loglevel", "WARNING",
        ],
        cwd=ROOT,
        env={**os.environ, "BENCH_LOAD_PLAN": str(plan_path)},
        stdout=subprocess.DEVNULL,
        stderr=open(scratch / "locust.log", "wb"),  # noqa: SIM115
    )  # fmt: skip


_BEGAN = time.monotonic()


def _step(text: str) -> None:
    print(f"[{time.monotonic() - _BEGAN:5.0f} s] {text}", flush=True)


def _child() -> int:
    from bench import bench_delivery
    from scripts.smoke_prod import compose_commands

    scratch = Path(os.environ["BENCH_LOAD_SCRATCH"])
    commands = compose_commands(os.environ)
    _fresh_database(os.environ["DATABASE_URL"], commands["migrate"])
    import django
    import redis

    django.setup()
    from django.core.management import call_command

    redis.Redis.from_url(REDIS_URL).flushdb()
    call_command("collectstatic", "--noinput", verbosity=0)  # the Dockerfile's build step
    _step("migrated, static files collected")
    seeding = time.monotonic()
    bench_delivery._customers(RECIPIENTS, location="Idle")
    bench_delivery._customers(RECIPIENTS, location="Busy", start=RECIPIENTS)
    plan = _seed_browsing()
    _step(
        f"seeded {2 * RECIPIENTS:,} customers, {USERS} staff, {TICKETS:,} tickets, "
        f"{INCIDENTS} incidents in {time.monotonic() - seeding:.0f} s"
    )
    sinks, (smtp_port,) = sinks_start(("smtp",))
    env = {**os.environ, "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}"}
    base = f"http://127.0.0.1:{os.environ['PORT']}"
    processes, logs = {}, {}
    locust = None
    try:
        for name in ("web", "worker", "beat"):
            logs[name] = open(scratch / f"{name}.log", "w+b")  # noqa: SIM115
            processes[name] = subprocess.Popen(
                commands[name], cwd=ROOT, env=env, stdout=logs[name], stderr=subprocess.STDOUT
            )
        _wait("for /healthz", lambda: _healthy(base), processes)
        _step("gunicorn, the worker and beat started as deploy/docker-compose.yml says")
        bench_delivery._settle()
        idle_rate = bench_delivery._run_notification("Idle", "email", RECIPIENTS)
        _step(f"send alone: {idle_rate:.0f} messages/s")
        bench_delivery._settle()
        busy = bench_delivery._notification("Busy", "email")
        plan["notifications"] = [busy.pk, busy.pk - 1, busy.pk - 2]
        plan["result"] = str(scratch / "locust.json")
        plan["measure_from"] = str(scratch / "measuring")
        locust = _browse(plan, base, scratch)
        # Staff are at work before the outage notice goes out: every user
        # signed in and every server process past its first pages. What
        # they saw until then is printed apart; the bounds are for the send.
        time.sleep(WARM_UP_SECONDS)
        (scratch / "measuring").touch()
        time.sleep(0.1)  # the load generator has switched to the send's figures
        busy_rate = bench_delivery._send_and_wait(busy, RECIPIENTS)
        _step(f"send with {USERS} staff browsing: {busy_rate:.0f} messages/s")
        locust.send_signal(signal.SIGTERM)
        locust.wait(timeout=60)
        load = os.getloadavg()
    finally:
        if locust is not None and locust.poll() is None:
            locust.kill()
        for process in processes.values():
            process.send_signal(signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        sinks_stop(sinks)
    try:
        result = json.loads((scratch / "locust.json").read_text())
    except FileNotFoundError:
        print((scratch / "locust.log").read_text(errors="replace")[-3000:])
        return 1
    if result["failures"]:
        web_log = (scratch / "web.log").read_text(errors="replace").splitlines()
        said = [line for line in web_log if "[INFO]" not in line] or web_log
        print("gunicorn said:\n  " + "\n  ".join(said[-15:]))
    return _report(result, idle_rate, busy_rate, load)


def _report(result: dict, idle_rate: float, busy_rate: float, load) -> int:
    header = f"{'requests':>8} {'errors':>6} {'p50':>6} {'p95':>6}"
    print(f"\n  {'endpoint (while sending)':<40} {header}")
    for name, entry in sorted(result["endpoints"].items(), key=lambda item: -item[1]["p95"]):
        print(
            f"  {name:<40} {entry['requests']:>8} {entry['failures']:>6} "
            f"{entry['p50']:>4.0f}ms {entry['p95']:>4.0f}ms"
        )
    for error in result["errors"]:
        print(f"  error: {error}")
    warm_up = result.get("warm_up") or {}
    if warm_up:
        print(
            f"\n  before the send ({WARM_UP_SECONDS:.0f} s warm-up: signing in, first pages), "
            f"not counted: {warm_up['requests']} requests, {warm_up['failures']} errors, "
            f"p95 {warm_up['p95']:.0f} ms"
        )
    ratio = busy_rate / idle_rate
    checks = [
        (
            f"staff p95, {USERS} users, {result['requests']:,} requests ({result['rps']:.1f}/s)",
            f"{result['p95']:.0f} ms",
            f"< {P95_BOUND_MS} ms",
            result["p95"] < P95_BOUND_MS,
        ),
        ("staff errors", f"{result['failures']}", "0", result["failures"] == 0),
        (f"send alone, {RECIPIENTS:,} emails", f"{idle_rate:.0f} /s", "", None),
        (f"send with {USERS} staff browsing", f"{busy_rate:.0f} /s", "", None),
        ("with staff / alone", f"{ratio:.0%}", f"≥ {RATIO_BOUND:.0%}", ratio >= RATIO_BOUND),
    ]
    print()
    for label, value, bound, ok in checks:
        print(_row(label, value, bound, ok), flush=True)
    print(f"load average after the send: {' '.join(f'{x:.2f}' for x in load)}", flush=True)
    return 0 if all(ok is not False for *_, ok in checks) else 1


if __name__ == "__main__":
    if "--child" in sys.argv:
        sys.exit(_child())
    sys.exit(main())
