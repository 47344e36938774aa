"""The zero-setup default (DESIGN.md §6): SQLite in WAL mode and kombu's filesystem broker, with
no DATABASE_URL and no CELERY_BROKER_URL. Every step runs in its own process, as ``make run``
and the Procfile do, on a fresh ``ITOM_VAR_DIR``; child processes are stopped in teardown and
their output is printed when a test fails.
"""

import json
import os
import re
import socket
import sqlite3
import subprocess
import time

import httpx
import pytest

from tests.integration.processes import BIN, PROJECT_DIR, Process

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

SECRET_KEY = "embedded-test-secret-key-not-for-production-0123456789abcdefghij"
# Nothing from the test run's environment may choose the database, the broker or the folders.
NOT_INHERITED = (
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "CELERY_TASK_ALWAYS_EAGER",
    "SECRET_KEY_FILE",
    "STATIC_ROOT",
    "MEDIA_ROOT",
    "DEBUG",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
)
COMMAND_TIMEOUT = 120  # seconds for one management command
START_TIMEOUT = 60  # seconds for a worker or web server to come up
TASK_TIMEOUT = 60  # seconds for a sent task's effect to show


@pytest.fixture(scope="module")
def var_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("itom-var")


@pytest.fixture(scope="module")
def env(var_dir):
    """The environment of every child process: a fresh var dir, a key, and nothing else chosen."""
    environment = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    environment.update(ITOM_VAR_DIR=str(var_dir), SECRET_KEY=SECRET_KEY, DJANGO_SETTINGS_MODULE="itom.settings")
    manage(environment, "migrate", "--noinput")
    return environment


def manage(env, *args):
    """Run ``manage.py <args>``; returns its stdout, failing the test (with the output) on an error."""
    completed = subprocess.run(
        [str(BIN / "python"), "manage.py", *args],
        env=env,
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    assert completed.returncode == 0, (
        f"manage.py {' '.join(args)} exited with {completed.returncode}:\n{completed.stdout}\n{completed.stderr}"
    )
    return completed.stdout


def shell(env, code):
    """Run Python in ``manage.py shell`` and return what it printed, stripped."""
    return manage(env, "shell", "--verbosity", "0", "--command", code).strip()


def counts(env):
    return json.loads(
        shell(
            env,
            "import json; from django.contrib.auth import get_user_model; from accounts.models import Team; "
            "print(json.dumps({'teams': Team.objects.count(), 'users': get_user_model().objects.count()}))",
        )
    )


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_embedded_default_seeds_once_creates_the_admin_once_uses_wal_and_runs_tasks_on_the_filesystem_broker(
    env, var_dir
):
    assert "Demo data is in place." in manage(env, "seed_demo")
    after_first = counts(env)
    manage(env, "seed_demo")
    assert counts(env) == after_first
    assert after_first["teams"] >= 4
    demo_teams = shell(
        env,
        "from accounts.models import Team\n"
        "names = Team.objects.filter(name__in=['Service Desk', 'Network Operations']).values_list('name', flat=True)\n"
        "print(','.join(names))",
    )
    assert demo_teams == "Network Operations,Service Desk"

    first = manage(env, "ensure_admin")
    created = re.search(r"Created administrator 'admin' with password: (\S+)", first)
    assert created, first
    second = manage(env, "ensure_admin")
    assert "already exists" in second
    assert "password:" not in second
    assert created.group(1) not in second
    password_works = shell(
        env,
        "from django.contrib.auth import get_user_model\n"
        "admin = get_user_model().objects.get(username='admin')\n"
        f"print(admin.is_superuser and admin.check_password({created.group(1)!r}))",
    )
    assert password_works == "True"

    with sqlite3.connect(var_dir / "itom.sqlite3") as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    connection.close()

    worker = Process(
        [str(BIN / "celery"), "-A", "itom", "worker", "--queues", "default", "--pool", "solo", "-l", "INFO"], env
    )
    try:
        worker.wait_for_output(" ready.", START_TIMEOUT)
        assert "filesystem://" in worker.output
        task_id = shell(
            env,
            "from accounts.tasks import import_teams\n"
            "rows = [{'name': 'Storage', 'email': 'storage@example.com'}]\n"
            "print(import_teams.apply_async(kwargs={'rows': rows}).id)",
        )
        assert re.fullmatch(r"[0-9a-f-]{36}", task_id), task_id
        deadline = time.monotonic() + TASK_TIMEOUT
        recorded = ""
        while not recorded and time.monotonic() < deadline:
            worker.check_running()
            recorded = shell(
                env,
                "from accounts.models import Team; from itom.models import ObjectChange; "
                "t = Team.objects.filter(name='Storage').first(); "
                "print(t and ObjectChange.objects.get(content_type__model='team', object_id=str(t.pk), "
                "action='create').user_name or '')",
            )
            if not recorded:
                time.sleep(0.3)
        assert recorded == "task:accounts.tasks.import_teams", f"no team after {TASK_TIMEOUT} s:\n{worker.output}"
        assert f"import_teams[{task_id}] succeeded" in worker.output
    finally:
        worker.stop()


def test_gunicorn_serves_health_sign_in_and_static_files_on_the_embedded_default(env):
    # `make run` collects static files before it starts the web process; so does the Dockerfile.
    manage(env, "collectstatic", "--noinput", "--verbosity", "0")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    web = Process([str(BIN / "gunicorn"), "itom.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"], env)
    try:
        with httpx.Client(base_url=base, timeout=5) as client:
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                web.check_running()
                try:
                    live = client.get("/livez")
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, f"gunicorn did not answer in {START_TIMEOUT} s:\n{web.output}"
                    time.sleep(0.2)
            assert live.status_code == 200

            health = client.get("/healthz")
            assert health.status_code == 200, health.text
            assert health.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}

            login = client.get("/login/")
            assert login.status_code == 200, login.text[:2000]
            assert "Sign in" in login.text
            stylesheet = re.search(r'href="(/static/vendor/bootstrap/bootstrap\.min\.[0-9a-f]{12}\.css)"', login.text)
            assert stylesheet, "the page links the hashed (collected) stylesheet"
            css = client.get(stylesheet.group(1))
            assert css.status_code == 200
            assert css.headers["content-type"].startswith("text/css")
    finally:
        web.stop()
