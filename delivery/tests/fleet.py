"""Real Celery worker and beat processes on a given database and broker,
for the reliability tests and the benchmarks: start, SIGKILL, restart."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class Fleet:
    def __init__(
        self,
        *,
        database_url: str,
        broker_url: str,
        data_dir: Path,
        env: dict | None = None,
        log_level: str = "INFO",
    ):
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.env = dict(os.environ)
        self.env.pop("PROACTIVE_REQUIRE_INTEGRATION", None)
        self.env.update(
            {
                "DATABASE_URL": database_url,
                "CELERY_BROKER_URL": broker_url,
                "PROACTIVE_DATA_DIR": str(self.data_dir),
                "DJANGO_ENV": "test",
                "PYTHONUNBUFFERED": "1",
                "LOG_LEVEL": log_level,
                "DISPATCH_INTERVAL_SECONDS": "0.5",
                "SCHEDULER_INTERVAL_SECONDS": "1",
            }
        )
        self.env.update(env or {})
        self.workers: dict[str, subprocess.Popen] = {}
        self.beat: subprocess.Popen | None = None
        self._logs = []

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        log = open(self.data_dir / f"{name}.log", "ab")  # noqa: SIM115
        self._logs.append(log)
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", *args],
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def start_worker(
        self, name: str, *, extra: list[str] | None = None, celery_log_level: str | None = None
    ) -> None:
        self.workers[name] = self._spawn(
            name,
            [
                "worker",
                "--pool",
                "solo",
                "-n",
                f"{name}@%h",
                "-l",
                celery_log_level or self.env["LOG_LEVEL"],
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                *(extra or []),
            ],
        )

    def start_beat(self) -> None:
        self.beat = self._spawn(
            "beat",
            [
                "beat",
                "-l",
                "WARNING",
                "-s",
                str(self.data_dir / "celerybeat-schedule"),
                "--pidfile=",
            ],
        )

    def wait_ready(self, *, timeout: float = 90) -> None:
        """Until every worker says it is ready (Django and Celery loaded)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all("ready." in self.log(name) for name in self.workers):
                return
            time.sleep(0.1)
        raise RuntimeError("the workers did not start in time")

    def kill(self, name: str) -> None:
        """SIGKILL: no clean-up, no acknowledgement, as a crash."""
        process = self.workers.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop(self) -> None:
        processes = list(self.workers.values()) + ([self.beat] if self.beat else [])
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.workers.clear()
        self.beat = None
        for log in self._logs:
            log.close()

    def log(self, name: str) -> str:
        path = self.data_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


class RedisServer:
    """A private redis-server on its own port, so a test may restart it
    without disturbing anyone else's Redis."""

    def __init__(self, *, port: int, data_dir: Path):
        self.port = port
        self.data_dir = Path(data_dir)
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.data_dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import socket

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()
