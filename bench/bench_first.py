"""Time to the first message (`python -m bench first`).

"Send now" of an outage notice through the API, as a client does it (HTTP,
token), then the clock runs until the SMTP sink receives the first message:

- the embedded default: SQLite and the filesystem broker in a temporary data
  folder, with the website, worker and beat started exactly as `make run`
  starts them (scripts/run.py's command builder);
- PostgreSQL + Redis: the same three processes on a fresh database
  `proactive_bench_first` and the Redis database BENCH_REDIS_URL;

each for 3 and for BENCH_FIRST_LARGE (default 100,000) recipients, each run
printed: the API call, the first message [goal ≤ 2 s on PostgreSQL, ≤ 3 s on
the embedded default], for 3 recipients the last of the three, and the hops
read from the processes' logs in seconds after the call: the first rows
written, the first drain tasks dispatched, the first message sent, every row
written ("-": the cancel came first). A large notice is cancelled once its
first message is in, and the next run waits for the pipeline to go quiet.

It also measures the idle worker's CPU over BENCH_FIRST_IDLE_SECONDS
(default 60; 0 skips) with the filesystem broker's polling interval at each
of BENCH_FIRST_IDLE_INTERVALS (default 1.0, kombu's default) and at the
embedded default's.

Environment: BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/),
BENCH_REDIS_URL (default redis://127.0.0.1:6379/12), BENCH_FIRST_LARGE,
BENCH_FIRST_RUNS (default 3), BENCH_FIRST_IDLE_SECONDS.
"""

import datetime
import importlib.util
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.child import pg_database_recreate

ROOT = Path(__file__).resolve().parents[1]
PG_BASE = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/")
PG_DB = "proactive_bench_first"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
LARGE = int(os.environ.get("BENCH_FIRST_LARGE", "100000"))
RUNS = int(os.environ.get("BENCH_FIRST_RUNS", "3"))
IDLE_SECONDS = float(os.environ.get("BENCH_FIRST_IDLE_SECONDS", "60"))
# Polling intervals measured besides the embedded default's own: kombu's default.
IDLE_INTERVALS = os.environ.get("BENCH_FIRST_IDLE_INTERVALS", "1.0").split(",")
GOALS = {"embedded": 3.0, "postgresql": 2.0}
CONFIGURATIONS = os.environ.get("BENCH_FIRST_ONLY", "embedded,postgresql").split(",")
# A folder to keep each configuration's web, worker and beat logs in.
KEEP_LOGS = os.environ.get("BENCH_FIRST_LOGS", "")
SMALL = 3
LOCATIONS = {SMALL: "FirstSmall", LARGE: "FirstLarge"}


def _run_py():
    """scripts/run.py as a module: its command builder is how `make run`
    starts the website, the worker and beat."""
    spec = importlib.util.spec_from_file_location("proactive_run", ROOT / "scripts" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _free_port() -> int:
    from delivery.tests.sinks import free_port

    return free_port()


class Service:
    """The website, worker and beat of one configuration, with their logs."""

    def __init__(self, *, name: str, env: dict, data_dir: Path):
        self.name, self.env, self.data_dir = name, env, data_dir
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.processes: dict[str, subprocess.Popen] = {}
        self._logs = []

    def start(self, only: tuple[str, ...] = ("web", "worker", "beat")) -> None:
        commands = _run_py().commands(
            dev=False, host="127.0.0.1", port=str(self.port), data_dir=self.data_dir
        )
        if self.name == "postgresql":
            # As deployed (deploy/, "Running in production"): a prefork worker.
            # The threads pool `make run` uses acknowledges late tasks only
            # when the Redis event loop next wakes (celery/celery#6941).
            commands["worker"] = [
                sys.executable,
                *("-m", "celery", "-A", "config", "worker", "--concurrency", "2"),
                *("-n", "worker@%h", "--without-gossip", "--without-mingle"),
                "--without-heartbeat",
            ]
        # Only what these processes write counts (an earlier start left lines too).
        offsets = {name: len(self.log(name)) for name in only}
        for name in only:
            log = open(self.data_dir / f"{name}.log", "ab")  # noqa: SIM115
            self._logs.append(log)
            self.processes[name] = subprocess.Popen(
                commands[name], cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            worker_ready = (
                "worker" not in only or "ready." in self.log("worker")[offsets["worker"] :]
            )
            if worker_ready and ("web" not in only or self._web_up()):
                return
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{self.name} {name} exited:\n{self.log(name)[-3000:]}")
            time.sleep(0.2)
        raise RuntimeError(f"{self.name}: the processes did not start in time")

    def _web_up(self) -> bool:
        import requests

        try:
            return requests.get(f"{self.base}/healthz", timeout=2).status_code < 500
        except requests.RequestException:
            return False

    def log(self, name: str) -> str:
        path = self.data_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()
        for log in self._logs:
            log.close()
        self._logs.clear()


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _idle_cpu(env: dict, data_dir: Path, interval: str) -> float:
    """CPU seconds an idle worker (and nothing else but beat) uses over
    IDLE_SECONDS with this polling interval."""
    service = Service(
        name=f"idle-{interval}",
        env={**env, "BROKER_POLLING_INTERVAL_SECONDS": interval},
        data_dir=data_dir,
    )
    service.start(only=("worker", "beat"))
    try:
        time.sleep(3)  # past the start-up work
        pid = service.processes["worker"].pid
        before = _cpu_seconds(pid)
        time.sleep(IDLE_SECONDS)
        return _cpu_seconds(pid) - before
    finally:
        service.stop()


# --- one send ---------------------------------------------------------------------------------

_LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")


def _first_line_at(text: str, pattern: str, *, after: float) -> float | None:
    """The wall-clock time of the first log line matching `pattern` at or after `after`."""
    wanted = re.compile(pattern)
    for line in text.splitlines():
        if not wanted.search(line):
            continue
        match = _LOG_TIME.match(line)
        if not match:
            continue
        stamp = datetime.datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
        if stamp >= after - 0.002:
            return stamp
    return None


def _send_once(service: Service, session, sink, *, size: int) -> dict:
    location = LOCATIONS[size]
    response = session.post(
        f"{service.base}/api/notifications/",
        json={
            "title": "Outage in your area",
            "body": "Dear {{ customer.name }}, the service at your address is down; we are on it.",
            "kind": "outage",
            "channels": ["email"],
            "audience": {"location": [location]},
            "respect_contact_window": False,
        },
        timeout=30,
    )
    response.raise_for_status()
    pk = response.json()["id"]
    before = sink.handler.count
    wall = time.time()
    started = time.perf_counter()
    response = session.post(f"{service.base}/api/notifications/{pk}/send/", timeout=60)
    api = time.perf_counter() - started
    if response.status_code != 202:
        raise RuntimeError(f"send answered {response.status_code}: {response.text}")
    first = every = None
    deadline = started + 120
    while time.perf_counter() < deadline:
        got = sink.handler.count - before
        now = time.perf_counter()
        if got >= 1 and first is None:
            first = now - started
        if got >= min(size, SMALL):
            every = now - started
            break
        time.sleep(0.002)
    if first is None:
        raise RuntimeError(f"no message arrived within 120 s ({service.name}, {size})")
    if size > SMALL:
        session.post(f"{service.base}/api/notifications/{pk}/cancel/", timeout=60)
        _wait_quiet(sink)
    else:
        time.sleep(0.5)
    logs = service.log("web") + service.log("worker")
    hops = {}
    for label, pattern in (
        ("first rows written", rf"messages materialised .*notification_id={pk}\b"),
        ("drain dispatched", "dispatched drain tasks"),
        ("first sent", rf"message sent .*notification_id={pk}\b"),
        ("all written", rf"notification materialised .*notification_id={pk}\b"),
    ):
        at = _first_line_at(logs, pattern, after=wall)
        hops[label] = None if at is None else at - wall
    return {"api": api, "first": first, "every": every, "hops": hops, "id": pk}


def _wait_quiet(sink, *, quiet: float = 1.5, timeout: float = 120) -> None:
    last, since = sink.handler.count, time.monotonic()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.1)
        if sink.handler.count != last:
            last, since = sink.handler.count, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return


# --- the orchestrator -------------------------------------------------------------------------


def _setup(env: dict) -> str:
    process = subprocess.run(
        [sys.executable, "-m", "bench.bench_first", "setup"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    for line in process.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])["token"]
    raise RuntimeError(f"setup failed:\n{(process.stdout + process.stderr)[-3000:]}")


def _fresh_pg() -> str:
    url = PG_BASE.rstrip("/") + "/" + PG_DB
    pg_database_recreate(url)
    return url


def _row(label: str, value: str, goal: str = "", ok: bool | None = None) -> str:
    verdict = "" if ok is None else ("ok" if ok else "MISSED")
    return f"  {label:<56} {value:>12}   {goal:<10} {verdict}"


def _configuration(name: str, folder: Path, sink_port: int) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "PROACTIVE_REQUIRE_INTEGRATION")
    }
    env.update(
        {
            "PROACTIVE_DATA_DIR": str(folder),
            "SECRET_KEY": secrets.token_urlsafe(32),
            "DEBUG": "false",
            "PYTHONUNBUFFERED": "1",
            "LOG_LEVEL": "INFO",
            "EMAIL_URL": f"smtp://127.0.0.1:{sink_port}",
            "BENCH_FIRST_LARGE": str(LARGE),
        }
    )
    if name == "embedded":
        env["DELIVERY_SOLE_WORKER"] = "true"  # as scripts/run.py sets it without DATABASE_URL
    else:
        import redis

        redis.Redis.from_url(REDIS_URL).flushdb()
        env["DATABASE_URL"] = _fresh_pg()
        env["CELERY_BROKER_URL"] = REDIS_URL
    return env


def main() -> int:
    import requests

    from delivery.tests.sinks import SmtpSink

    failures = 0
    idle = {}
    with SmtpSink(keep=False) as sink:
        for name in CONFIGURATIONS:
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp)
                env = _configuration(name, folder, sink.port)
                started = time.perf_counter()
                token = _setup(env)
                print(
                    f"{name}: {SMALL} + {LARGE:,} customers loaded in "
                    f"{time.perf_counter() - started:.1f} s",
                    flush=True,
                )
                if name == "embedded" and IDLE_SECONDS > 0:
                    from django.conf import settings

                    polling = str(
                        settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("polling_interval", 1.0)
                    )
                    for interval in dict.fromkeys((*IDLE_INTERVALS, polling)):
                        idle[interval] = _idle_cpu(env, folder, interval)
                service = Service(name=name, env=env, data_dir=folder)
                service.start()
                session = requests.Session()
                session.headers["Authorization"] = f"Token {token}"
                try:
                    for size in (SMALL, LARGE):
                        for run in range(1, RUNS + 1):
                            result = _send_once(service, session, sink, size=size)
                            goal = GOALS[name]
                            ok = result["first"] <= goal
                            failures += not ok
                            hops = ", ".join(
                                f"{label} {'-' if at is None else f'{at:.2f}'}"
                                for label, at in result["hops"].items()
                            )
                            print(
                                _row(
                                    f"{name}, {size:,} recipients, run {run}: first message",
                                    f"{result['first']:.2f} s",
                                    f"≤ {goal:.0f} s",
                                    ok,
                                ),
                                flush=True,
                            )
                            print(f"      API call {result['api'] * 1000:.0f} ms; {hops}")
                            if size == SMALL:
                                print(f"      all {SMALL} received after {result['every']:.2f} s")
                finally:
                    service.stop()
                    if KEEP_LOGS:
                        for log in folder.glob("*.log"):
                            target = Path(KEEP_LOGS) / name
                            target.mkdir(parents=True, exist_ok=True)
                            (target / log.name).write_bytes(log.read_bytes())
    for interval, seconds in idle.items():
        print(
            _row(
                f"idle worker CPU over {IDLE_SECONDS:.0f} s, polling every {interval} s",
                f"{seconds:.2f} s",
                f"{100 * seconds / IDLE_SECONDS:.2f} %",
            )
        )
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    return 1 if failures else 0


# --- the child: database and customers -----------------------------------------------------------


def phase_setup() -> dict:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from accounts.models import ApprovalStatus, Role, User
    from accounts.services import token_issue
    from bench.bench_delivery import _customers, _settle

    user = User.objects.create_user(
        "bench_first", role=Role.ENGINEER, approval_status=ApprovalStatus.APPROVED
    )
    _customers(SMALL, location=LOCATIONS[SMALL])
    _customers(LARGE, location=LOCATIONS[LARGE], start=SMALL)
    _settle()
    return {"token": token_issue(user=user).key}


if __name__ == "__main__":
    print("RESULT " + json.dumps({"setup": phase_setup}[sys.argv[1]]()), flush=True)
