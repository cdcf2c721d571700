"""`make run` starts the website, worker and scheduler, answers /healthz, and
stops all of them on SIGINT or SIGTERM — twice in a row on the same data folder."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthz(port: int) -> int | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return response.status
    except Exception:
        return None


def _start_and_stop(data_dir: Path, stop_signal: int) -> str:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env.update(
        {"PROACTIVE_DATA_DIR": str(data_dir), "PORT": str(port), "DEMO_SEED_CUSTOMERS": "40"}
    )
    process = subprocess.Popen(
        [sys.executable, "scripts/run.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 180
        while _healthz(port) != 200:
            assert process.poll() is None, process.stdout.read()
            assert time.monotonic() < deadline, "no healthy answer within 180 s"
            time.sleep(0.5)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/docs/", timeout=5) as response:
            assert response.status == 200
        process.send_signal(stop_signal)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert _healthz(port) is None
    return output


@pytest.mark.skipif(
    os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="make run uses the embedded default; covered by the SQLite pass",
)
def test_make_run_starts_serves_and_stops_cleanly_twice(tmp_path):
    first = _start_and_stop(tmp_path, signal.SIGINT)
    assert "password:" in first  # demo credentials are printed once…
    second = _start_and_stop(tmp_path, signal.SIGTERM)
    assert "password:" not in second  # …and not again
    assert "Proactive stopped." in second
