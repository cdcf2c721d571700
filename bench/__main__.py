"""`make bench`: run every bench/bench_*.py module's main() and print its figures.

`python -m bench directory` runs only the modules whose name contains "directory".
"""

import importlib
import os
import pkgutil
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    wanted = argv[1:]
    names = sorted(
        m.name
        for m in pkgutil.iter_modules([str(Path(__file__).parent)])
        if m.name.startswith("bench_") and (not wanted or any(w in m.name for w in wanted))
    )
    failures = 0
    for name in names:
        print(f"\n=== {name}", flush=True)
        started = time.perf_counter()
        module = importlib.import_module(f"bench.{name}")
        try:
            result = module.main()
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            print(f"{name} failed: {exc!r}", flush=True)
            failures += 1
            continue
        if result not in (None, 0):
            failures += 1
        print(f"=== {name} done in {time.perf_counter() - started:.1f} s", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
