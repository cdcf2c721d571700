"""A large send leaves the CPU to the website first: workers run nicer."""

import os
from pathlib import Path

import pytest

from conftest import wait_until


def _niceness(pid: int) -> int:
    # Field 19 of /proc/<pid>/stat (after the command in parentheses).
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[16])


def _pool_children(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in children.read_text().split()] if children.exists() else []


@pytest.mark.parametrize("niceness", ["10", "0"])
def test_a_worker_and_its_pool_run_at_the_configured_lower_priority(start_worker, niceness):
    own = os.nice(0)
    worker = start_worker(concurrency=2, extra_env={"WORKER_NICENESS": niceness})
    children = wait_until(
        lambda: len(_pool_children(worker.process.pid)) >= 2 and _pool_children(worker.process.pid),
        timeout=60,
    )
    expected = min(own + int(niceness), 19)
    assert _niceness(worker.process.pid) == expected
    assert {_niceness(child) for child in children} == {expected}
