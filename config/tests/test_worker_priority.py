"""A large send leaves the CPU to the website first: workers run nicer."""

import os

import pytest

from conftest import child_pids, process_stat, wait_until


def _niceness(pid: int) -> int:
    return int(process_stat(pid)[16])  # field 19 of /proc/<pid>/stat


@pytest.mark.parametrize("niceness", ["10", "0"])
def test_a_worker_and_its_pool_run_at_the_configured_lower_priority(start_worker, niceness):
    own = os.nice(0)
    worker = start_worker(concurrency=2, extra_env={"WORKER_NICENESS": niceness})
    children = wait_until(
        lambda: len(child_pids(worker.process.pid)) >= 2 and child_pids(worker.process.pid),
        timeout=60,
    )
    expected = min(own + int(niceness), 19)
    assert _niceness(worker.process.pid) == expected
    assert {_niceness(child) for child in children} == {expected}
