"""`make run` and `make dev`: migrate, create demo accounts and data on first
start, then run the website, a Celery worker and the beat scheduler together
until Ctrl-C or SIGTERM, which stops all of them.

`make run` (no argument) is the service as people use it: granian serving
the site with DEBUG off, static files collected into the data folder and
served by whitenoise, a secret key generated once and kept in the data
folder. `make dev` (`--dev`) is for developers: Django's runserver with
DEBUG on.

The three processes are supervised: one that dies is started again after a
pause that doubles on each quick failure (1 s up to 30 s), with a line saying
so; what it had started itself (granian's worker process) is stopped first,
so nothing is left serving the old code or holding the port. Only Ctrl-C or
SIGTERM stops the whole service."""

import argparse
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BIN = Path(PYTHON).parent
WSGI_APPLICATION = "config.wsgi:application"

# A child that ran this long before dying is restarted at once (the backoff
# starts over); quicker deaths double the pause, up to the maximum.
STABLE_SECONDS = 60.0
BACKOFF_FIRST_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 30.0


def say(text: str) -> None:
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} run: {text}", flush=True)


def manage(*args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, check=True)


def secret_key(data_dir: Path) -> str:
    """The embedded default's key: random, made on first start and kept
    (readable by the owner only) so sessions and signed links survive restarts."""
    path = data_dir / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_urlsafe(64))
    return path.read_text().strip()


def commands(*, dev: bool, host: str, port: str, data_dir: Path) -> dict[str, list[str]]:
    celery = [PYTHON, "-m", "celery", "-A", "config"]
    if dev:
        web = [PYTHON, "manage.py", "runserver", f"{host}:{port}", "--noreload"]
    else:
        web = [
            str(BIN / "granian"),
            "--interface",
            "wsgi",
            "--host",
            host,
            "--port",
            port,
            # One process running Django in four threads: the embedded
            # default serves a handful of staff and writes to one SQLite file
            # anyway. The connections themselves (HTTP parsing, keep-alive,
            # slow clients) are handled outside Python, so the crowd that
            # reloads the status page during an outage costs Django nothing
            # but the prebuilt copy (config/prebuilt.py): about 16,000
            # requests/s where gunicorn's Python loop gave 3,500 on 2 cores.
            "--workers",
            "1",
            "--blocking-threads",
            "4",
            "--workers-kill-timeout",
            "10",
            "--no-ws",
            "--log-level",
            "warning",
            WSGI_APPLICATION,
        ]
    return {
        "web": web,
        # One process with two threads instead of a prefork pool of two:
        # the same two drain tasks at once in a third of the memory.
        "worker": [
            *celery,
            "worker",
            "--pool",
            "threads",
            "--concurrency",
            "2",
            # The filesystem broker has no event loop: the worker acknowledges
            # a finished task only between two polls of the queue, which wait
            # up to 2 s when nothing arrives. With one task per thread in hand
            # (the project's prefetch of 1), finished but unacknowledged tasks
            # (beat's ticks, a dispatch) kept the next one waiting that long at
            # each hop of a send; a few more in hand take it at once.
            "--prefetch-multiplier",
            "4",
            "-n",
            "worker@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        "beat": [
            *celery,
            "beat",
            "-s",
            str(data_dir / "celerybeat-schedule"),
            "--pidfile=",
        ],
    }


@dataclass
class Child:
    name: str
    command: list[str]
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    backoff: float = BACKOFF_FIRST_SECONDS
    restart_at: float | None = None
    restarts: int = field(default=0)

    def start(self) -> None:
        # A process group of its own: Ctrl-C reaches this supervisor only,
        # which then stops every child in order.
        self.process = subprocess.Popen(self.command, cwd=ROOT, process_group=0)
        self.started_at = time.monotonic()
        self.restart_at = None
        say(f"{self.name} started (pid {self.process.pid})")

    def check(self) -> None:
        """Restart a dead child once its pause is over."""
        now = time.monotonic()
        if self.restart_at is not None:
            if now >= self.restart_at:
                self.restarts += 1
                self.start()
            return
        if self.process is None or self.process.poll() is None:
            return
        self.stop_leftovers()
        if now - self.started_at >= STABLE_SECONDS:
            self.backoff = BACKOFF_FIRST_SECONDS
        pause = self.backoff
        self.backoff = min(self.backoff * 2, BACKOFF_MAX_SECONDS)
        self.restart_at = now + pause
        say(
            f"{self.name} (pid {self.process.pid}) exited with {self.process.returncode}; "
            f"restarting it in {pause:.0f} s"
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def stop_leftovers(self) -> None:
        """Kill what the dead child started and left behind (its process
        group, its own since it started): a web worker whose parent died
        would go on answering with the old code and keep the port."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dev", action="store_true", help="runserver with DEBUG on")
    options = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    data_dir = Path(os.environ.get("PROACTIVE_DATA_DIR") or ROOT / "var").resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    port = os.environ.get("PORT", "8000")
    host = os.environ.get("HOST", "127.0.0.1")
    if not os.environ.get("SECRET_KEY"):
        os.environ["SECRET_KEY"] = secret_key(data_dir)
    os.environ.setdefault("DEBUG", "true" if options.dev else "false")
    if not os.environ.get("DATABASE_URL"):
        # The embedded default has exactly one worker, this one: when it
        # starts, the claims of a worker that died are given back at once
        # instead of waiting out their lease.
        os.environ.setdefault("DELIVERY_SOLE_WORKER", "true")

    manage("migrate", "--noinput", "-v", "0")
    manage("ensure_demo_users")
    manage("seed_demo", "--if-empty", "--customers", os.environ.get("DEMO_SEED_CUSTOMERS", "300"))
    if not options.dev:
        manage("collectstatic", "--noinput", "-v", "0")

    children = [
        Child(name, command)
        for name, command in commands(
            dev=options.dev, host=host, port=port, data_dir=data_dir
        ).items()
    ]
    stopping = False

    def stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)
    pid_file = data_dir / "run.pid"  # `make restore` refuses while this process lives
    pid_file.write_text(f"{os.getpid()}\n")
    for child in children:
        child.start()
    mode = "development server, DEBUG on" if options.dev else "granian"
    print(f"Proactive is running at http://{host}:{port}/ ({mode}; Ctrl-C stops it)", flush=True)

    while not stopping:
        for child in children:
            child.check()
        time.sleep(0.25)

    say("stopping")
    for child in children:
        child.stop()
    deadline = time.monotonic() + 20
    for child in children:
        if child.process is None:
            continue
        try:
            child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.process.kill()
            child.process.wait()
        child.stop_leftovers()
    pid_file.unlink(missing_ok=True)
    print("Proactive stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
