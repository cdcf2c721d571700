"""What a client sees: a gunicorn the benchmark starts on 127.0.0.1, and
requests to it over HTTP with token authentication, timed at the client
(connection kept alive, as an API client or the browser does).

    with Served(env={"DATABASE_URL": url}) as server:
        session = server.session(token_key)
        timings = timed(session, [("get", "/api/customers/?search=olga", None)])

The server runs with DEBUG off, like production, and its own log level
WARNING. The in-process figures of a benchmark are the server's own time;
these add the WSGI server, the HTTP parsing and the loopback network.
"""

import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Served:
    def __init__(self, *, env: dict[str, str], workers: int = 2, threads: int = 1):
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DEBUG": "false",
            "LOG_LEVEL": "WARNING",
            **env,
        }
        if not self.env.get("DATABASE_URL"):
            self.env.pop("DATABASE_URL", None)
        self.command = [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--log-level",
            "warning",
        ]
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "Served":
        import requests

        # Not this process's stdout: a benchmark's child reports on its own.
        self.process = subprocess.Popen(
            self.command, cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=sys.stderr
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}")
            try:
                requests.get(f"{self.base}/healthz", timeout=10)
                return self
            except requests.RequestException:
                time.sleep(0.2)
        self.__exit__()
        raise RuntimeError("gunicorn did not answer within 60 s")

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def pids(self) -> list[int]:
        """The gunicorn master and its workers (for their memory)."""
        if not self.process:
            return []
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        found = [int(pid) for pid in children.read_text().split()] if children.exists() else []
        return [self.process.pid, *found]

    def session(self, token: str):
        import requests

        session = requests.Session()
        session.headers["Authorization"] = f"Token {token}"
        session.base = self.base  # type: ignore[attr-defined]
        return session


def timed(session, requests: list[tuple[str, str, dict | None]], *, expect: int = 200) -> list:
    """Milliseconds per request as the client measures them."""
    timings = []
    for method, url, body in requests:
        started = time.perf_counter()
        if method == "get":
            response = session.get(session.base + url, timeout=30)
        else:
            response = session.post(session.base + url, json=body, timeout=30)
        timings.append((time.perf_counter() - started) * 1000)
        if response.status_code != expect:
            raise RuntimeError(f"{url} → {response.status_code}: {response.content[:300]!r}")
    return timings


def p50_p95(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    return statistics.median(values), statistics.quantiles(values, n=20)[-1]
