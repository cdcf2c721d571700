"""`make run` is the service as people run it: gunicorn with DEBUG off,
static files through whitenoise, plain 404 pages, a kept secret key; it
restarts a child that dies, stays quiet when idle, and stops all of them on
SIGINT or SIGTERM — twice in a row on the same data folder. A worker killed
mid-send loses nothing, duplicates at most one message per lane, and its
claims go out again within seconds instead of waiting out the lease."""

import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from conftest import process_stat, wait_until
from delivery.tests.sinks import SmtpSink

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="make run uses the embedded default; covered by the SQLite pass",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(port: int, path: str) -> tuple[int | None, dict, bytes]:
    """Status, headers (looked up whatever their case) and body."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()
    except OSError:
        return None, {}, b""


def _alive_in_group(group: int) -> list[int]:
    """The pids of the process group's members that still run (not zombies
    waiting for a parent to reap them)."""
    alive = []
    for entry in Path("/proc").glob("[0-9]*"):
        fields = process_stat(int(entry.name))  # state, parent, group, …
        if fields is not None and int(fields[2]) == group and fields[0] not in ("Z", "X"):
            alive.append(int(entry.name))
    return alive


class MakeRun:
    def __init__(self, data_dir: Path, **env):
        self.data_dir = data_dir
        self.port = _free_port()
        self.log_path = data_dir / f"run-{self.port}.log"
        environment = {
            k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")
        }
        environment.update(
            {
                "PROACTIVE_DATA_DIR": str(data_dir),
                "PORT": str(self.port),
                "DEMO_SEED_CUSTOMERS": "40",
                "PYTHONUNBUFFERED": "1",
                **env,
            }
        )
        self.env = environment
        self._log = open(self.log_path, "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "scripts/run.py"],
            cwd=ROOT,
            env=environment,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_healthy(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while _get(self.port, "/healthz")[0] != 200:
            assert self.process.poll() is None, self.output()
            assert time.monotonic() < deadline, f"no healthy answer within {timeout} s"
            time.sleep(0.5)

    def child_pid(self, name: str) -> int:
        pids = re.findall(rf"run: {name} started \(pid (\d+)\)", self.output())
        assert pids, self.output()
        return int(pids[-1])

    def manage_shell(self, code: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", code],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""

    def stop(self, stop_signal: int = signal.SIGTERM) -> str:
        try:
            if self.process.poll() is None:
                self.process.send_signal(stop_signal)
                self.process.wait(timeout=60)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            self._log.close()
        assert self.process.returncode == 0, self.output()
        assert _get(self.port, "/healthz")[0] is None
        return self.output()


RECIPIENTS = 400
# The embedded default's worker runs two drain tasks at once, one lane each.
LANES_IN_THE_EMBEDDED_WORKER = 2
# From the kill to the last message, restarting the worker included. The
# dead worker's batch (all 400, one batch holds 500) was claimed a few
# seconds before the kill: waiting out its 120 s lease would take nearly
# two minutes after it, plus the sending.
RECOVERY_SECONDS = 90

_SEND = (
    "import datetime\n"
    "from customers.models import Customer\n"
    "from notifications.models import Notification\n"
    "from notifications import services\n"
    "Customer.objects.bulk_create(Customer(account_number=f'K-{i:05d}', "
    "name=f'Kill {i}', email=f'kill{i}@example.com', phone=f'+7902{i:07d}', "
    "contact_window_start=datetime.time(0), contact_window_end=datetime.time(0)) "
    f"for i in range({RECIPIENTS}))\n"
    "n = Notification.objects.create(title='Notice {{ customer.account_number }}', "
    "body='Dear {{ customer.name }}', channels=['email'], "
    "audience={'customer_ids': list(Customer.objects.filter("
    "account_number__startswith='K-').values_list('pk', flat=True))})\n"
    "services.notification_send(notification=n)\n"
    "print(n.pk)"
)
_COUNTS = (
    "import json\nfrom collections import Counter\n"
    "from delivery.models import Message\n"
    "print(json.dumps(Counter(Message.objects.filter(notification__isnull=False)"
    ".values_list('status', flat=True))))"
)


def _backup_tool(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "scripts/backup.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _sqlite_counts(database: Path) -> dict:
    import sqlite3

    connection = sqlite3.connect(database)
    try:
        (integrity,) = connection.execute("PRAGMA integrity_check").fetchone()
        rows = connection.execute(
            "SELECT status, COUNT(*) FROM delivery_message "
            "WHERE notification_id IS NOT NULL GROUP BY status"
        ).fetchall()
    finally:
        connection.close()
    return {"integrity": integrity, **dict(rows)}


def test_make_run_serves_for_real_supervises_backs_up_and_restores(tmp_path):
    """One `make run` from first start to SIGINT: it serves like production,
    stays quiet when idle, restarts a killed website, then sends 400 emails
    while a backup is taken and the worker is killed; a second `make run`
    (SIGTERM) starts on the restored backup and finishes what the backup
    still had queued."""
    data = tmp_path / "data"
    data.mkdir()
    with SmtpSink() as sink:
        first = MakeRun(data, **sink.env())
        try:
            first.wait_healthy()
            assert _get(first.port, "/docs/")[0] == 200
            # granian, DEBUG off: a plain 404 page, no list of URLs, no traceback.
            status, headers, body = _get(first.port, "/no-such-page/")
            assert status == 404
            assert headers.get("Server", "") == "granian"
            assert b"Not found" in body
            assert b"URLconf" not in body and b"Traceback" not in body
            # Static files collected into the data folder and served by whitenoise.
            status, headers, body = _get(first.port, "/static/web/app.css")
            assert status == 200 and headers["Content-Type"].startswith("text/css")
            assert (data / "static" / "web" / "app.css").exists()
            # A secret key of its own, readable by its owner only.
            key = (data / "secret_key").read_text()
            assert len(key.strip()) >= 50
            assert stat.S_IMODE((data / "secret_key").stat().st_mode) == 0o600

            # Idle, it writes nothing (the dispatcher alone runs every 2 s).
            time.sleep(5)  # the children's start-up lines
            settled = len(first.output().splitlines())
            time.sleep(15)
            idle_lines = first.output().splitlines()[settled:]
            assert idle_lines == [], idle_lines

            # A child that dies is started again, with a line saying so.
            web_pid = first.child_pid("web")
            os.kill(web_pid, signal.SIGKILL)
            wait_until(
                lambda: f"web (pid {web_pid}) exited with -9; restarting it in 1 s"
                in first.output(),
                timeout=10,
                what="the restart line",
            )
            wait_until(lambda: first.child_pid("web") != web_pid, timeout=10, what="a new web")
            # Nothing of the dead one is left answering with the old code:
            # its worker process went with it.
            wait_until(lambda: not _alive_in_group(web_pid), timeout=5, what="the old web gone")
            first.wait_healthy(timeout=60)

            # An upload, then a send; a backup while it runs; a SIGKILL.
            (data / "media" / "attachments").mkdir(parents=True)
            (data / "media" / "attachments" / "photo.jpg").write_bytes(b"\xff\xd8 a photo")
            first.manage_shell(_SEND)
            wait_until(lambda: sink.handler.count >= 40, timeout=120, what="40 emails")
            backup = _backup_tool(first.env, "backup")
            assert backup.returncode == 0, backup.stderr
            archive = Path(backup.stdout.split("Backup written: ")[1].strip())
            wait_until(lambda: sink.handler.count >= 80, timeout=120, what="80 emails")
            worker_pid = first.child_pid("worker")
            os.kill(worker_pid, signal.SIGKILL)
            killed_at = time.monotonic()
            at_kill = sink.handler.count
            deadline = killed_at + RECOVERY_SECONDS
            while len({r.to for r in sink.received}) < RECIPIENTS:
                assert time.monotonic() < deadline, (
                    f"{len({r.to for r in sink.received})} of {RECIPIENTS} recipients "
                    f"{RECOVERY_SECONDS} s after the kill:\n{first.output()[-6000:]}"
                )
                time.sleep(0.2)
            recovered = time.monotonic() - killed_at
            counts = json.loads(first.manage_shell(_COUNTS))
        finally:
            output = first.stop(signal.SIGINT)
        received = Counter(r.to for r in sink.received)
        duplicates = sum(received.values()) - len(received)
        print(
            f"\nkilled at {at_kill} sent; all {RECIPIENTS} delivered {recovered:.1f} s after "
            f"the kill (bound {RECOVERY_SECONDS} s, lease 120 s); duplicates {duplicates} "
            f"(bound {LANES_IN_THE_EMBEDDED_WORKER})"
        )
        assert "password:" in output  # demo credentials are printed once…
        assert "Proactive stopped." in output
        assert at_kill < RECIPIENTS  # the kill landed mid-send
        assert len(received) == RECIPIENTS  # 0 lost
        assert duplicates <= LANES_IN_THE_EMBEDDED_WORKER
        assert counts == {"sent": RECIPIENTS}
        assert f"worker (pid {worker_pid}) exited with -9; restarting it in 1 s" in output
        assert "claims of a previous worker given back" in output

        # The backup: one consistent moment in the middle of the send.
        restored = tmp_path / "restored"
        restore_env = {**first.env, "PROACTIVE_DATA_DIR": str(restored)}
        result = _backup_tool(restore_env, "restore", str(archive))
        assert result.returncode == 0, result.stderr
        in_backup = _sqlite_counts(restored / "proactive.sqlite3")
        assert in_backup.pop("integrity") == "ok"
        assert sum(in_backup.values()) == RECIPIENTS
        assert 40 <= in_backup.get("sent", 0) < RECIPIENTS
        assert (restored / "media" / "attachments" / "photo.jpg").read_bytes() == (
            b"\xff\xd8 a photo"
        )
        assert (restored / "secret_key").read_text() == key

        # Started on the restored folder, the service finishes what the
        # backup still had queued; nothing recorded as sent goes again.
        before = len(sink.received)
        second = MakeRun(restored, **sink.env())
        try:
            second.wait_healthy()
            refused = _backup_tool(restore_env, "restore", str(archive))
            assert refused.returncode != 0 and "is running" in refused.stderr
            wait_until(
                lambda: json.loads(second.manage_shell(_COUNTS)) == {"sent": RECIPIENTS},
                timeout=180,
                what="the restored queue to finish",
            )
        finally:
            output = second.stop(signal.SIGTERM)
        again = len(sink.received) - before
        assert again == RECIPIENTS - in_backup["sent"]
    assert "password:" not in output  # …and not again
    assert "Proactive stopped." in output
