"""The app's PostgreSQL sessions: no JIT compilation (it cost more than it
saved on the large statements, README "Delivery"), and options given in
DATABASE_URL still apply beside it."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHOW = (
    "import django; django.setup()\n"
    "from django.db import connection\n"
    "with connection.cursor() as cursor:\n"
    "    cursor.execute('SHOW jit'); jit = cursor.fetchone()[0]\n"
    "    cursor.execute('SHOW statement_timeout'); timeout = cursor.fetchone()[0]\n"
    "print(jit, timeout)\n"
)


def test_sessions_run_without_jit_and_keep_the_options_of_the_database_url(postgres):
    with postgres.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"

    url = postgres.settings_dict
    database_url = (
        f"postgres://{url['USER']}@{url['HOST'] or '127.0.0.1'}:{url['PORT'] or 5432}/"
        f"{url['NAME']}?options=-c%20statement_timeout%3D4321"
    )
    shown = subprocess.run(
        [sys.executable, "-c", SHOW],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": database_url,
            "DJANGO_ENV": "test",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert shown.stdout.split() == ["off", "4321ms"], shown.stderr[-2000:]
