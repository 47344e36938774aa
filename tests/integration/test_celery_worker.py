"""A real Celery worker process consumes tasks from Redis and writes to the test database, and the
audit trail names the person a task acts for (or the task itself).

The worker listens on a queue of its own (``itest.<random>``), so it never takes another run's
messages; its database is pytest-django's test database (``transactional_db`` commits the data
the worker must see). Its output is printed when a test fails.
"""

import os
import sys
import time
import uuid
from urllib.parse import quote

import pytest
import redis
from django.conf import settings

from accounts.models import Team
from accounts.tasks import import_teams
from itom.celery import app as celery_app
from itom.choices import ChangeAction
from itom.models import ObjectChange
from itom.roles import MANAGER
from tests.factories import UserFactory
from tests.integration.processes import BIN, Process

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

CELERY = BIN / "celery"
READY_TIMEOUT = 60  # seconds for the worker to connect and start consuming
TASK_TIMEOUT = 60  # seconds for a sent task's effect to show in the database


def database_url():
    """A URL for the database this test runs on (pytest-django's test database)."""
    db = settings.DATABASES["default"]
    assert db["ENGINE"] == "django.db.backends.postgresql", "this test needs PostgreSQL (DATABASE_URL)"
    credentials = quote(db.get("USER") or "", safe="")
    if db.get("PASSWORD"):
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = db.get("HOST") or "127.0.0.1"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{credentials}@{host}{port}/{quote(db['NAME'], safe='')}"


@pytest.fixture
def worker(transactional_db):
    """A worker on a fresh queue, reading and writing the test database; yields the queue name."""
    assert settings.CELERY_BROKER_URL.startswith("redis://"), "this test needs Redis (CELERY_BROKER_URL)"
    assert not celery_app.conf.task_always_eager, "tasks must go through the broker"
    queue = f"itest.{uuid.uuid4().hex[:12]}"
    env = {**os.environ, "DATABASE_URL": database_url(), "CELERY_BROKER_URL": settings.CELERY_BROKER_URL}
    env.pop("CELERY_TASK_ALWAYS_EAGER", None)
    process = Process(
        [
            str(CELERY),
            "-A",
            "itom",
            "worker",
            "--queues",
            queue,
            "--pool",
            "solo",
            "--concurrency",
            "1",
            "-l",
            "INFO",
            "--hostname",
            f"{queue}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        env,
    )
    try:
        process.wait_for_output(" ready.", READY_TIMEOUT)
        yield queue
    finally:
        process.stop()
        print(f"--- worker output ({' '.join(process.args)}) ---\n{process.output}", file=sys.stderr)
        _delete_queue(queue)


def _delete_queue(queue):
    """Drop the run's queue (and any message a failed run left in it) from Redis."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        keys = list(client.scan_iter(match=f"*{queue}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def wait_for_team(name, timeout=TASK_TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        team = Team.objects.filter(name=name).first()
        if team is not None:
            return team
        time.sleep(0.2)
    raise AssertionError(f"the worker did not create team {name!r} within {timeout} s")


def creation_of(team):
    return ObjectChange.objects.get(
        content_type__app_label="accounts",
        content_type__model="team",
        object_id=str(team.pk),
        action=ChangeAction.CREATE,
    )


def test_a_worker_imports_teams_and_the_audit_trail_names_the_user_the_task_acted_for(worker):
    manager = UserFactory(username="maria", roles=[MANAGER])

    result = import_teams.apply_async(
        kwargs={"rows": [{"name": "Storage", "email": "storage@example.com"}], "acting_user_id": manager.pk},
        queue=worker,
    )

    team = wait_for_team("Storage")
    assert team.email == "storage@example.com"
    change = creation_of(team)
    assert change.user == manager
    assert change.user_name == "maria"
    assert change.request_id == uuid.UUID(result.id)


def test_a_worker_task_without_an_acting_user_is_recorded_as_the_task(worker):
    result = import_teams.apply_async(
        kwargs={"rows": [{"name": "Backup", "email": "backup@example.com"}]}, queue=worker
    )

    team = wait_for_team("Backup")
    change = creation_of(team)
    assert change.user is None
    assert change.user_name == "task:accounts.tasks.import_teams"
    assert change.request_id == uuid.UUID(result.id)
