"""Running a benchmark's measuring half in a child process of its own (fresh
settings from its environment), the sinks it sends to, and the PostgreSQL
administration it needs."""

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


def pg_database_recreate(url: str) -> None:
    """Drop the database `url` names, whoever is connected to it, and create it empty."""
    server, name = url.rstrip("/").rsplit("/", 1)
    pg_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    pg_admin(server, f'CREATE DATABASE "{name}"')


def run_phase(module: str, phase: str, env: dict) -> dict:
    """Run `python -m <module> <phase>` with `env` over ours, under test
    settings; the phase prints its figures on a line `RESULT <json>`."""
    # DEBUG off as in production: no per-query bookkeeping.
    full_env = {**os.environ, "DJANGO_ENV": "test", "DEBUG": "false", "LOG_LEVEL": "WARNING", **env}
    process = subprocess.run(
        [sys.executable, "-m", module, phase],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    for line in process.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    tail = (process.stdout + process.stderr)[-3000:]
    raise RuntimeError(f"benchmark phase {phase} failed:\n{tail}")


def pg_ensure_database(url: str) -> None:
    """Create the database `url` names unless it exists."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def sinks_start(
    kinds: tuple[str, ...], *, token: str | None = None
) -> tuple[list[subprocess.Popen], list[int]]:
    """The delivery sinks of these kinds ("smtp", "http"), each in a process of
    its own on a free port, once each has said it is ready; and their ports."""
    from delivery.tests.sinks import free_port

    ports = [free_port() for _ in kinds]
    sinks = [
        subprocess.Popen(
            [sys.executable, "-m", "delivery.tests.sinks", kind, str(port)]
            + ([token] if token else []),
            cwd=ROOT,
            stdout=subprocess.PIPE,
        )
        for kind, port in zip(kinds, ports, strict=True)
    ]
    for sink in sinks:
        sink.stdout.readline()  # "ready"
    return sinks, ports


def sinks_stop(sinks: list[subprocess.Popen]) -> None:
    for sink in sinks:
        sink.terminate()
        sink.wait()
