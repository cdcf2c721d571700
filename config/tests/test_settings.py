"""Production settings: locked down, and refusing to start without a real secret."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args, env_overrides, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SECRET_KEY"))}
    env.pop("DATABASE_URL", None)
    env.update({"PROACTIVE_DATA_DIR": str(tmp_path), **env_overrides})
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


PRODUCTION = {
    "DJANGO_ENV": "production",
    "ALLOWED_HOSTS": "proactive.example.net",
    "EMAIL_URL": "smtp://mailer:secret@smtp.example.net:587/?tls=True",
}


def test_check_deploy_is_clean_in_production(tmp_path):
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env_overrides={**PRODUCTION, "SECRET_KEY": secrets.token_urlsafe(64)},
        tmp_path=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = _manage("check", env_overrides=PRODUCTION, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_refuses_the_development_key(tmp_path):
    from django.conf import settings as dj_settings  # noqa: F401  (the dev key lives there)

    result = _manage(
        "check",
        env_overrides={
            **PRODUCTION,
            "SECRET_KEY": "django-insecure-development-only-key-do-not-use-in-production",
        },
        tmp_path=tmp_path,
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_a_bad_value_names_the_variable(tmp_path):
    result = _manage("check", env_overrides={"DELIVERY_BATCH_SIZE": "lots"}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "DELIVERY_BATCH_SIZE must be a whole number" in result.stderr


def test_passwords_are_hashed_with_argon2_outside_tests(tmp_path):
    result = _manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.PASSWORD_HASHERS[0])",
        env_overrides={},
        tmp_path=tmp_path,
    )
    assert (
        result.stdout.strip().splitlines()[-1] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    )


def test_links_in_emails_follow_the_port_make_run_serves(tmp_path):
    shell = "from django.conf import settings; print(settings.PUBLIC_BASE_URL)"
    result = _manage(
        "shell", "-v", "0", "-c", shell, env_overrides={"PORT": "8123"}, tmp_path=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "http://localhost:8123"
    given = {"PORT": "8123", "PUBLIC_BASE_URL": "https://proactive.example.net/"}
    result = _manage("shell", "-v", "0", "-c", shell, env_overrides=given, tmp_path=tmp_path)
    assert result.stdout.strip() == "https://proactive.example.net"
