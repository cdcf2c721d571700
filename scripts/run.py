"""`make run`: migrate, create demo accounts and data on first start, then run
the website, a Celery worker and the beat scheduler together until Ctrl-C
or SIGTERM, which stops all of them."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def manage(*args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, check=True)


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    data_dir = Path(os.environ.get("PROACTIVE_DATA_DIR", ROOT / "var"))
    data_dir.mkdir(parents=True, exist_ok=True)
    port = os.environ.get("PORT", "8000")
    host = os.environ.get("HOST", "127.0.0.1")
    manage("migrate", "--noinput", "-v", "0")
    manage("ensure_demo_users")
    manage("seed_demo", "--if-empty", "--customers", os.environ.get("DEMO_SEED_CUSTOMERS", "300"))

    celery = [PYTHON, "-m", "celery", "-A", "config"]
    commands = {
        "web": [PYTHON, "manage.py", "runserver", f"{host}:{port}", "--noreload"],
        "worker": [*celery, "worker", "-l", "INFO", "--concurrency", "2", "-n", "worker@%h"],
        "beat": [
            *celery,
            "beat",
            "-l",
            "INFO",
            "-s",
            str(data_dir / "celerybeat-schedule"),
        ],
    }
    children = {name: subprocess.Popen(cmd, cwd=ROOT) for name, cmd in commands.items()}
    print(f"Proactive is running at http://{host}:{port}/ (Ctrl-C stops it)", flush=True)

    stopping = False

    def stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    while not stopping:
        for name, child in children.items():
            if child.poll() is not None:
                print(f"{name} exited with {child.returncode}; stopping the others.", flush=True)
                stopping = True
                exit_code = 1
        time.sleep(0.5)

    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for child in children.values():
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
    print("Proactive stopped.", flush=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
