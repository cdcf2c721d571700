"""Scale-out (`python -m bench scale_out`, PostgreSQL + Redis): email end to
end with 1, 2 and 4 worker processes, each against the ceiling of the same
SMTP sink taking from as many plain smtplib clients as those workers have
connections (workers × DELIVERY_LANES), measured in the same run.

For each, the CPU time spent per message is split by who spent it (read
from /proc before and after): the workers (and any process they start),
PostgreSQL (every server process), the sink, and the plain clients. On a
machine where all of them share the same cores this is what decides the
curve: the README's "Scaling" section reads its figures from here.

Environment: BENCH_SCALE_OUT_COUNT (messages per send, 20,000),
BENCH_SCALE_OUT_WORKERS (default "1,2,4"), BENCH_PG_URL, BENCH_SCALE_OUT_DB
(default proactive_bench_scale_out), BENCH_REDIS_URL (db 12, flushed).
"""

import os
import sys
import tempfile
from pathlib import Path

from bench.child import pg_admin, run_phase, sinks_start, sinks_stop

PG_BASE = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/")
PG_DB = os.environ.get("BENCH_SCALE_OUT_DB", "proactive_bench_scale_out")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
COUNT = int(os.environ.get("BENCH_SCALE_OUT_COUNT", "20000"))
WORKER_COUNTS = [int(n) for n in os.environ.get("BENCH_SCALE_OUT_WORKERS", "1,2,4").split(",")]
TICK = os.sysconf("SC_CLK_TCK")


def main() -> int:
    try:
        with tempfile.TemporaryDirectory() as folder:
            figures = run_phase(
                "bench.bench_scale_out",
                "curve",
                {
                    "DATABASE_URL": PG_BASE.rstrip("/") + "/" + PG_DB,
                    "PROACTIVE_DATA_DIR": folder,
                    "CELERY_BROKER_URL": REDIS_URL,
                    "BENCH_FRESH_DB": "1",
                },
            )
    finally:
        pg_admin(PG_BASE.rstrip("/"), f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
    lanes = figures["lanes"]
    print(
        f"  {COUNT:,} emails a send, {lanes} lanes a worker, {os.cpu_count()} CPUs; "
        "CPU per message in µs (workers / PostgreSQL / sink / plain clients)"
    )
    header = (
        f"  {'workers':>7} {'conns':>5} {'ours /s':>9} {'ceiling /s':>10} {'ratio':>6}   "
        f"{'ours: wrk / db / sink':>24}   {'ceiling: sink / clients':>24}"
    )
    print(header)
    for row in figures["rows"]:
        ours, ceiling = row["ours_cpu_us"], row["ceiling_cpu_us"]
        print(
            f"  {row['workers']:>7} {row['connections']:>5} {row['rate']:>9.0f} "
            f"{row['ceiling']:>10.0f} {row['rate'] / row['ceiling']:>6.2f}   "
            f"{ours['workers']:>8.0f} /{ours['database']:>5.0f} /{ours['sink']:>5.0f}   "
            f"{ceiling['sink']:>14.0f} /{ceiling['clients']:>6.0f}",
            flush=True,
        )
    print(f"  load average at the end: {figures['load']}")
    return 0


# --- CPU accounting from /proc ---------------------------------------------------


def _processes() -> dict[int, tuple[int, str, int]]:
    """Every process: pid → (parent pid, command name, CPU ticks so far)."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue  # ended meanwhile
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        # fields[1] is the parent; then utime, stime and the same of its
        # children already waited for (fields 14-17 of stat).
        found[int(entry)] = (int(fields[1]), name, sum(int(f) for f in fields[11:15]))
    return found


def _cpu(groups: dict[str, set[int]]) -> dict[str, float]:
    """CPU seconds so far of each group: its processes and their descendants;
    "database" is every PostgreSQL server process."""
    processes = _processes()
    totals = dict.fromkeys([*groups, "database"], 0.0)
    for pid, (_parent, name, ticks) in processes.items():
        if name == "postgres":
            totals["database"] += ticks / TICK
            continue
        seen, current = set(), pid
        while current in processes and current not in seen:
            seen.add(current)
            owner = next((g for g, pids in groups.items() if current in pids), None)
            if owner:
                totals[owner] += ticks / TICK
                break
            current = processes[current][0]
    return totals


def _per_message(before: dict, after: dict, count: int) -> dict[str, float]:
    return {name: (after[name] - before[name]) / count * 1e6 for name in after}


# --- the measuring child ---------------------------------------------------------


def phase_curve() -> dict:
    from bench import bench_delivery
    from bench.bench_delivery import _setup_django

    _setup_django()
    import redis
    from django.conf import settings
    from django.db import connections

    from delivery.tests.fleet import Fleet

    redis.Redis.from_url(REDIS_URL).flushdb()
    bench_delivery._customers(COUNT, location="Mail")
    bench_delivery._settle()
    sinks, (smtp_port,) = sinks_start(("smtp",))
    sink_pids = {sinks[0].pid}
    lanes = settings.DELIVERY_LANES
    rows = []
    try:
        payloads = None
        for workers in WORKER_COUNTS:
            fleet = Fleet(
                database_url=os.environ["DATABASE_URL"],
                broker_url=REDIS_URL,
                data_dir=Path(os.environ["PROACTIVE_DATA_DIR"]) / f"fleet-{workers}",
                env={"EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}"},
                log_level="WARNING",
            )
            try:
                for n in range(workers):
                    fleet.start_worker(f"w{n}", celery_log_level="INFO")  # its "ready." line
                fleet.start_beat()
                fleet.wait_ready()
                notification = bench_delivery._notification("Mail", "email")
                groups = {
                    "workers": {p.pid for p in fleet.workers.values()},
                    "sink": sink_pids,
                }
                before = _cpu(groups)
                rate = bench_delivery._send_and_wait(notification, COUNT)
                ours_cpu = _per_message(before, _cpu(groups), COUNT)
            finally:
                fleet.stop()
            if payloads is None:
                payloads = bench_delivery._smtp_payloads(notification)
            bench_delivery._settle()
            connections.close_all()
            clients = workers * lanes
            before = _cpu({"sink": sink_pids, "clients": {os.getpid()}})
            ceiling = bench_delivery._multi_smtp(smtp_port, payloads, clients)
            after = _cpu({"sink": sink_pids, "clients": {os.getpid()}})
            ceiling_cpu = _per_message(before, after, len(payloads))
            rows.append(
                {
                    "workers": workers,
                    "connections": clients,
                    "rate": rate,
                    "ceiling": ceiling,
                    "ours_cpu_us": ours_cpu,
                    "ceiling_cpu_us": ceiling_cpu,
                }
            )
            bench_delivery._settle()
    finally:
        sinks_stop(sinks)
    return {
        "lanes": lanes,
        "rows": rows,
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


if __name__ == "__main__":
    import json

    result = {"curve": phase_curve}[sys.argv[1]]()
    print("RESULT " + json.dumps(result), flush=True)
