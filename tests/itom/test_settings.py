"""Settings come from the environment and a malformed value stops start-up naming the variable."""

import os
import subprocess
import sys

import pytest
from django.conf import settings

BASE = {
    "PATH": os.environ.get("PATH", ""),
    "SECRET_KEY": "s" * 60,
    "DJANGO_SETTINGS_MODULE": "itom.settings",
}


def load_settings(tmp_path, **env):
    """Import the settings in a fresh interpreter; returns (exit code, output)."""
    script = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.DATABASES['default']['ENGINE'])"
    )
    full_env = {**BASE, "ITOM_VAR_DIR": str(tmp_path), **env}
    full_env = {k: v for k, v in full_env.items() if v is not None}
    result = subprocess.run(
        [sys.executable, "-c", script], env=full_env, capture_output=True, text=True, timeout=60, cwd=settings.BASE_DIR
    )
    return result.returncode, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DEBUG", "maybe"),
        ("DATABASE_URL", "mysql://db/itom"),
        ("CELERY_BROKER_URL", "amqp://guest@localhost//"),
        ("TIME_ZONE", "Mars/Olympus_Mons"),
        ("EMAIL_PORT", "twenty-five"),
        ("LOGIN_FAILURE_LIMIT", "0"),
        ("CSRF_TRUSTED_ORIGINS", "portal.example.com"),
        ("LOG_LEVEL", "LOUD"),
    ],
)
def test_a_malformed_value_stops_start_up_naming_the_variable(tmp_path, variable, value):
    code, output = load_settings(tmp_path, **{variable: value})
    assert code != 0
    assert "ImproperlyConfigured" in output
    assert f"{variable}:" in output


def test_secret_key_is_required_when_debug_is_off(tmp_path):
    code, output = load_settings(tmp_path, SECRET_KEY=None)
    assert code != 0
    assert "SECRET_KEY (or SECRET_KEY_FILE) is required" in output


def test_secret_key_may_come_from_a_file(tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text("k" * 60)
    code, output = load_settings(tmp_path, SECRET_KEY=None, SECRET_KEY_FILE=str(key_file))
    assert code == 0, output


def test_without_database_url_the_default_is_sqlite_under_the_var_dir(tmp_path):
    code, output = load_settings(tmp_path, DATABASE_URL=None, CELERY_BROKER_URL=None)
    assert code == 0, output
    assert "django.db.backends.sqlite3" in output
    assert (tmp_path / "broker" / "in").is_dir()


def test_a_postgres_url_selects_postgresql(tmp_path):
    code, output = load_settings(tmp_path, DATABASE_URL="postgres://u@db:5432/itom")
    assert code == 0, output
    assert "django.db.backends.postgresql" in output
