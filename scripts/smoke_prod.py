"""`make smoke-prod`: the production deployment, natively.

Containers cannot be pulled everywhere, so this keeps deploy/docker-compose.yml
honest another way: it reads the `command` of the migrate, web, worker and
beat services from the file and starts exactly those (the same programs and
arguments, `${VAR:-default}` filled in as compose would), with
DJANGO_ENV=production, against this machine's PostgreSQL (a database of its
own, made afresh) and Redis (a database number of its own), the Dockerfile's
collectstatic step, and an SMTP sink on 127.0.0.1. Then it acts as a staff
user behind the TLS proxy would (X-Forwarded-Proto: https): signs in, adds a
customer, sends a notification, and checks that the email arrives, that the
statistics and /metrics say so, that the worker's JSON log lines carry the
ids, and that every process stops cleanly on SIGTERM.

Settings: SMOKE_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/proactive_smoke),
SMOKE_REDIS_URL (default redis://127.0.0.1:6379/13)."""

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
import redis
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from delivery.tests.sinks import SmtpSink, free_port  # noqa: E402

COMPOSE = ROOT / "deploy" / "docker-compose.yml"
BIN = Path(sys.executable).parent
SERVICES = ("web", "worker", "beat")
PASSWORD = secrets.token_urlsafe(16)


def step(text: str) -> None:
    print(f"smoke-prod: {text}", flush=True)


def interpolate(value: str, env: dict) -> str:
    """Compose's ${VAR}, ${VAR:-default} and $$."""

    def one(match: re.Match) -> str:
        name, default = match.group(1), match.group(3)
        return env.get(name) or (default if default is not None else "")

    value = re.sub(r"\$\{(\w+)(:-([^}]*))?\}", one, value)
    return value.replace("$$", "$")


def compose_commands(env: dict) -> dict[str, list[str]]:
    spec = yaml.safe_load(COMPOSE.read_text())
    services = spec["services"]
    commands = {}
    for name in ("migrate", *SERVICES):
        command = services[name]["command"]
        assert isinstance(command, list), f"{name}: keep the compose command a list"
        assert services[name]["environment"]["DJANGO_ENV"] == "production", name
        args = [interpolate(str(arg), env) for arg in command]
        program = args[0]
        args[0] = sys.executable if program == "python" else str(BIN / program)
        commands[name] = args
    replicas = services["beat"].get("deploy", {}).get("replicas")
    assert replicas == 1, "beat must run exactly once"
    return commands


def fresh_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def request(method: str, url: str, *, token: str = "", body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)  # noqa: S310 (http://127.0.0.1 only)
    req.add_header("X-Forwarded-Proto", "https")  # as the TLS proxy in front would
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Token {token}")
    for key, value in (headers or {}).items():
        req.add_header(key, value)
    try:
        with urllib.request.urlopen(req, timeout=20) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_for(what: str, check, *, timeout: float, processes: dict) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, process in processes.items():
            if process.poll() is not None:
                raise SystemExit(f"{name} exited with {process.returncode} while waiting {what}")
        if check():
            return
        time.sleep(0.25)
    raise SystemExit(f"timed out after {timeout:.0f} s waiting {what}")


def main() -> int:
    started = time.monotonic()
    database_url = os.environ.get(
        "SMOKE_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/proactive_smoke"
    )
    broker_url = os.environ.get("SMOKE_REDIS_URL", "redis://127.0.0.1:6379/13")
    port = free_port()
    metrics_token = secrets.token_urlsafe(24)
    scratch = Path(tempfile.mkdtemp(prefix="proactive-smoke-"))
    base = f"http://127.0.0.1:{port}"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_", "CELERY_", "EMAIL_", "SMS_", "DEBUG", "LOG_"))
    }
    sink = SmtpSink().__enter__()
    env.update(
        {
            "DJANGO_ENV": "production",
            "SECRET_KEY": secrets.token_urlsafe(64),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "CSRF_TRUSTED_ORIGINS": f"https://127.0.0.1:{port}",
            "PUBLIC_BASE_URL": f"https://127.0.0.1:{port}",
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": broker_url,
            "PROACTIVE_DATA_DIR": str(scratch / "data"),
            "STATIC_ROOT": str(scratch / "static"),
            "METRICS_TOKEN": metrics_token,
            "PORT": str(port),
            "PYTHONUNBUFFERED": "1",
            "DISPATCH_INTERVAL_SECONDS": "1",
            **sink.env(),
        }
    )
    commands = compose_commands(env)
    step(f"database {database_url}, broker {broker_url}, web on port {port}")
    fresh_database(database_url)
    redis.Redis.from_url(broker_url).flushdb()

    def run(*args: str) -> None:
        subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)

    subprocess.run(commands["migrate"], cwd=ROOT, env=env, check=True)
    run("collectstatic", "--noinput", "-v", "0")  # the Dockerfile's build step
    run("check", "--deploy", "--fail-level", "WARNING")
    superuser = {
        "DJANGO_SUPERUSER_USERNAME": "smoke_admin",
        "DJANGO_SUPERUSER_EMAIL": "smoke_admin@example.net",
        "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
    }
    subprocess.run(
        [sys.executable, "manage.py", "createsuperuser", "--noinput"],
        cwd=ROOT,
        env={**env, **superuser},
        check=True,
    )

    logs = {name: open(scratch / f"{name}.log", "w+b") for name in SERVICES}  # noqa: SIM115
    processes = {}
    try:
        for name in SERVICES:
            processes[name] = subprocess.Popen(
                commands[name], cwd=ROOT, env=env, stdout=logs[name], stderr=subprocess.STDOUT
            )
            program, *args = commands[name]
            step(f"{name}: {Path(program).name} {' '.join(args)}")

        def healthy() -> bool:
            try:
                return request("GET", f"{base}/healthz")[0] == 200
            except OSError:
                return False

        wait_for("for /healthz", healthy, timeout=90, processes=processes)
        status, body = request(
            "POST", f"{base}/api/login/", body={"username": "smoke_admin", "password": PASSWORD}
        )
        assert status == 200, (status, body)
        token = json.loads(body)["token"]
        status, body = request(
            "POST",
            f"{base}/api/customers/",
            token=token,
            body={
                "account_number": "SMOKE-1",
                "name": "Smoke Test Customer",
                "email": "smoke.customer@example.net",
                "phone": "+79001234567",
                "timezone": "UTC",
                "contact_window_start": "00:00",
                "contact_window_end": "23:59",
            },
        )
        assert status == 201, (status, body)
        customer_id = json.loads(body)["id"]
        status, body = request(
            "POST",
            f"{base}/api/notifications/",
            token=token,
            body={
                "title": "Planned work for {{ customer.account_number }}",
                "body": "Dear {{ customer.name }}, we will work on the network tonight.",
                "channels": ["email"],
                "audience": {"customer_ids": [customer_id]},
            },
        )
        assert status == 201, (status, body)
        notification_id = json.loads(body)["id"]
        status, body = request(
            "POST", f"{base}/api/notifications/{notification_id}/send/", token=token
        )
        assert status == 202, (status, body)
        sent_at = time.monotonic()
        wait_for(
            "for the email at the SMTP sink",
            lambda: any(r.to == "smoke.customer@example.net" for r in sink.received),
            timeout=60,
            processes=processes,
        )
        step(f"email delivered {time.monotonic() - sent_at:.1f} s after the send")
        [email] = sink.received
        assert email.subject == "Planned work for SMOKE-1", email.subject
        assert "Dear Smoke Test Customer" in email.text, email.text

        def completed() -> bool:
            code, raw = request(
                "GET", f"{base}/api/notifications/{notification_id}/stats/", token=token
            )
            return code == 200 and json.loads(raw)["by_status"].get("sent") == 1

        wait_for("for the statistics to say sent", completed, timeout=30, processes=processes)
        status, _ = request("GET", f"{base}/metrics")
        assert status == 401, status
        status, body = request(
            "GET", f"{base}/metrics", headers={"Authorization": f"Bearer {metrics_token}"}
        )
        assert status == 200, status
        assert 'proactive_messages_sent_total{channel="email"} 1.0' in body.decode(), body
        status, body = request("GET", f"{base}/no-such-page/")
        assert status == 404 and b"Traceback" not in body and b"URLconf" not in body, status
        status, _ = request("GET", f"{base}/docs/")
        assert status == 200, status

        worker_log = (scratch / "worker.log").read_text(errors="replace")
        message_id = None
        for line in worker_log.splitlines():
            if line.startswith("{"):
                record = json.loads(line)
                if record.get("message") == "message sent":
                    message_id = record.get("message_id")
                    assert record.get("notification_id") == notification_id, record
                    assert record.get("customer_id") == customer_id, record
        assert message_id, "no JSON 'message sent' line with ids in the worker's log"
        step(f"worker logged JSON 'message sent' with message_id={message_id}")
    except BaseException:
        for name in SERVICES:
            path = scratch / f"{name}.log"
            if path.exists():
                print(f"----- {name} log (last 40 lines) -----", file=sys.stderr)
                tail = path.read_text(errors="replace").splitlines()[-40:]
                print("\n".join(tail), file=sys.stderr)
        raise
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        codes = {}
        for name, process in processes.items():
            try:
                codes[name] = process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                codes[name] = "killed after 30 s"
        for log in logs.values():
            log.close()
        sink.__exit__(None, None, None)
    assert all(code == 0 for code in codes.values()), f"unclean stops: {codes}"
    step(f"passed in {time.monotonic() - started:.0f} s; every process stopped cleanly")
    return 0


if __name__ == "__main__":
    sys.exit(main())
