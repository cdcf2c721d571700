"""Shared test fixtures: named people (admin, engineers, customers, an
outsider), API clients signed in as each, and the gates for integration
tests that need the real PostgreSQL and Redis."""

import os
import socket
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from accounts.models import ApprovalStatus, Role, User

IN_CI = os.environ.get("CI", "").lower() == "true"
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def unavailable(reason: str):
    """Skip locally with a visible reason; in CI a missing service is a failure."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true requires it)")
    pytest.skip(reason)


@pytest.fixture
def postgres(db):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL: runs in the PostgreSQL pass of `make test` (DATABASE_URL=postgres://…)"
        )
    return connection


@pytest.fixture
def redis_url():
    if not _reachable("127.0.0.1", 6379):
        unavailable("Redis is not reachable on 127.0.0.1:6379")
    return REDIS_URL


def make_user(username: str, role: str, approval=ApprovalStatus.APPROVED, **extra) -> User:
    """A person whose address is confirmed (pass email_confirmed_at=None for one
    who has not followed the link yet)."""
    from django.utils import timezone

    extra.setdefault("email_confirmed_at", timezone.now())
    return User.objects.create_user(
        username=username,
        email=f"{username}@example.com",
        password="correct horse battery staple",
        role=role,
        approval_status=approval,
        **extra,
    )


@pytest.fixture
def admin_user(db):
    return make_user("alice_admin", Role.ADMIN, first_name="Alice")


@pytest.fixture
def superuser(db):
    """Who signs in to the Django admin."""
    return User.objects.create_superuser("root", "root@example.com", "pw-123456789")


@pytest.fixture
def engineer(db):
    return make_user("eric_engineer", Role.ENGINEER, first_name="Eric")


@pytest.fixture
def other_engineer(db):
    return make_user("yuri_engineer", Role.ENGINEER, first_name="Yuri")


@pytest.fixture
def pending_engineer(db):
    return make_user("pat_pending", Role.ENGINEER, approval=ApprovalStatus.PENDING)


@pytest.fixture
def customer_user(db):
    from customers.services import customer_link_user

    user = make_user("carol_customer", Role.CUSTOMER, first_name="Carol")
    customer_link_user(user=user)
    return user


@pytest.fixture
def other_customer_user(db):
    from customers.services import customer_link_user

    user = make_user("dave_customer", Role.CUSTOMER, first_name="Dave")
    customer_link_user(user=user)
    return user


def client_for(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        from accounts.services import token_issue

        client.credentials(HTTP_AUTHORIZATION=f"Token {token_issue(user=user).key}")
    return client


@pytest.fixture
def anon_client():
    return APIClient()


@pytest.fixture
def admin_client_api(admin_user):
    return client_for(admin_user)


@pytest.fixture
def engineer_client(engineer):
    return client_for(engineer)


@pytest.fixture
def customer_client(customer_user):
    return client_for(customer_user)


_skipped_integration: list[str] = []


def pytest_runtest_logreport(report):
    if report.skipped and "integration" in report.keywords:
        _skipped_integration.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    if os.environ.get("PROACTIVE_REQUIRE_INTEGRATION") == "1" and _skipped_integration:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter:
            reporter.write_line(
                f"FAILED: {len(_skipped_integration)} integration test(s) were skipped "
                "in the PostgreSQL pass: " + ", ".join(_skipped_integration[:10]),
                red=True,
            )
        session.exitstatus = 1


def database_url_for_subprocess() -> str:
    """The URL of the test database this run is using, for a worker or server
    started in another process (needs a transactional test)."""
    from django.db import connection

    cfg = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{cfg['NAME']}"
    host = cfg.get("HOST") or "127.0.0.1"
    port = cfg.get("PORT") or 5432
    user = cfg.get("USER") or "postgres"
    password = f":{cfg['PASSWORD']}" if cfg.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{host}:{port}/{cfg['NAME']}"


class WorkerProcess:
    """A real Celery worker in a subprocess, on the test database and the given broker."""

    def __init__(self, *, broker_url: str, data_dir, concurrency: int = 1, extra_env=None):
        import subprocess
        import sys

        self.broker_url = broker_url
        self.data_dir = data_dir
        env = dict(os.environ)
        env.update(
            {
                "DATABASE_URL": database_url_for_subprocess(),
                "CELERY_BROKER_URL": broker_url,
                "PROACTIVE_DATA_DIR": str(data_dir),
                "DJANGO_ENV": "test",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.pop("PROACTIVE_REQUIRE_INTEGRATION", None)
        env.update(extra_env or {})
        self.log_path = data_dir / "worker.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--concurrency",
                str(concurrency),
                "-l",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def connection(self):
        from kombu import Connection

        options = {}
        if self.broker_url.startswith("filesystem://"):
            folder = str(self.data_dir / "broker" / "queue")
            options = {
                "data_folder_in": folder,
                "data_folder_out": folder,
                "control_folder": str(self.data_dir / "broker" / "control"),
            }
        return Connection(self.broker_url, transport_options=options)

    def send(self, task_name: str, *args, **kwargs):
        from config.celery import app

        with self.connection() as conn:
            return app.send_task(task_name, args=args, kwargs=kwargs, connection=conn)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self):
        import signal

        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except Exception:
                self.process.kill()
        self._log.close()


@pytest.fixture
def start_worker(tmp_path):
    """Factory: start_worker(broker_url=...) → WorkerProcess, stopped after the test."""
    workers: list[WorkerProcess] = []

    def start(*, broker_url: str | None = None, **kwargs) -> WorkerProcess:
        (tmp_path / "broker" / "queue").mkdir(parents=True, exist_ok=True)
        (tmp_path / "broker" / "processed").mkdir(parents=True, exist_ok=True)
        worker = WorkerProcess(
            broker_url=broker_url or "filesystem://", data_dir=tmp_path, **kwargs
        )
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


def child_pids(pid: int) -> list[int]:
    """The processes whose parent is `pid` (a worker's pool or lane processes)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in children.read_text().split()] if children.exists() else []


def process_stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command's name (state first),
    or None when the process is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def process_running(pid: int) -> bool:
    """Running, not gone and not a zombie waiting for a parent to reap it."""
    fields = process_stat(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def wait_until(
    predicate, *, timeout: float = 30.0, interval: float = 0.1, what: str = "the condition"
):
    """Poll until predicate() is truthy; return its value or fail saying what did not happen."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"{what}: not within {timeout} s")


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle counts and the public status document live in the cache; each
    test starts with an empty one, whatever ran before it in this process.
    Only a process-local cache is cleared: a shared one is not ours to empty."""
    from django.core.cache import caches
    from django.core.cache.backends.locmem import LocMemCache

    if isinstance(caches["default"], LocMemCache):
        caches["default"].clear()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Argon2 is deliberately slow; tests hash thousands of times. Production
    settings keep Argon2 first (asserted in accounts/tests/test_settings.py)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
