"""Running a benchmark's measuring half in a child process of its own (fresh
settings from its environment) and the PostgreSQL administration it needs."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_child(module: str, args: list[str], env: dict[str, str]) -> dict:
    """Run `python -m <module> <args>` with `env` over ours (DEBUG and chatty
    logs off); its last stdout line is a JSON object of figures."""
    full_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", **env}
    full_env.update({"LOG_LEVEL": "WARNING", "DEBUG": "false"})
    if not full_env.get("DATABASE_URL"):
        full_env.pop("DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{module} {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


def pg_admin(server: str, sql: str) -> None:
    """One statement on the server's maintenance database (CREATE/DROP DATABASE)."""
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(sql)
