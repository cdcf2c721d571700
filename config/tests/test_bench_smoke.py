"""The benchmarks stay runnable: every module imports, and the scale
benchmark runs end to end at a tiny size on PostgreSQL + Redis, printing
every figure beside its goal."""

import importlib
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import database_url_for_subprocess

ROOT = Path(__file__).resolve().parents[2]


def test_every_benchmark_module_imports_and_has_a_main():
    names = [
        module.name
        for module in pkgutil.iter_modules([str(ROOT / "bench")])
        if module.name.startswith("bench_")
    ]
    assert {"bench_scale", "bench_directory", "bench_delivery", "bench_tickets"} <= set(names)
    for name in names:
        assert callable(importlib.import_module(f"bench.{name}").main), name


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_the_scale_benchmark_runs_at_a_tiny_size(postgres):
    server = database_url_for_subprocess().rsplit("/", 1)[0]
    env = {
        **os.environ,
        "BENCH_POSTGRES_URL": server,
        "BENCH_SCALE_DB": f"proactive_bench_scale_smoke_{os.getpid()}",
        "BENCH_REDIS_URL": os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/12"),
        "BENCH_SCALE_CUSTOMERS": "400",
        "BENCH_SCALE_SEND_SECONDS": "8",
        # 388 recipients at 100 a second: the second notice is still sending
        # when it is cancelled half-way (unthrottled, a fast machine sent all
        # of it first, and the cancel then had nothing to cancel).
        "BENCH_SCALE_EMAIL_MAX_PER_SECOND": "100",
        # `bench scale` runs the scale-out curve too: a small one.
        "BENCH_SCALE_OUT_COUNT": "400",
        "BENCH_PG_URL": server,
        "BENCH_SCALE_OUT_DB": f"proactive_bench_scale_out_smoke_{os.getpid()}",
    }
    env.pop("DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "bench", "scale"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    out = done.stdout
    assert "Scale figures" in out, (out + done.stderr)[-3000:]
    for goal in ("< 200 ms", "≤ 10 s", "≥ 0.9", "< 300 MB", "< 50 ms", "< 5 s", "≤ 0.25 s"):
        assert goal in out, goal
    assert "directory benchmark's loader" in out
    assert "ceiling /s" in out  # the scale-out curve printed its table
    assert "failed" not in out
