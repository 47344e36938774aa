"""The dispatcher's claim (``engine.claim_due``): one statement that two dispatchers cannot both
win, a lease per check, and a check whose batch died claimed again once its lease expired. And
``dispatch``: batches by zone, sent to ``poll.<zone>`` on the real broker."""

import base64
import importlib
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import redis
from django.apps import apps as django_apps
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from monitoring.models import Check
from monitoring.services import engine
from tests.monitoring.factories import CheckFactory, ZoneFactory


def due_checks(n, *, due=None, **fields):
    due = due or timezone.now() - timedelta(seconds=1)
    return [CheckFactory(next_due_at=due, **fields) for _ in range(n)]


@pytest.fixture
def reclaim(settings):
    settings.MONITORING_RECLAIM_SECONDS = 30
    settings.MONITORING_DISPATCH_SECONDS = 5
    return settings


def test_a_claim_is_one_statement(db, reclaim):
    due_checks(3)
    with CaptureQueriesContext(connection) as queries:
        claims = engine.claim_due()
    writes = [q["sql"] for q in queries.captured_queries if "claimed_until" in q["sql"]]
    assert len(writes) == 1
    assert writes[0].lstrip().upper().startswith("UPDATE")
    if connection.vendor == "postgresql":
        assert "SKIP LOCKED" in writes[0].upper()
    assert len(claims) == 3


def test_a_claim_returns_the_check_its_zone_and_its_due_time_soonest_first(db, reclaim):
    now = timezone.now()
    remote = ZoneFactory(name="dmz")
    later = CheckFactory(next_due_at=now - timedelta(seconds=1), zone=remote)
    sooner = CheckFactory(next_due_at=now - timedelta(seconds=10))

    claims = engine.claim_due(now)

    assert [tuple(claim) for claim in claims] == [
        (sooner.pk, "default", sooner.next_due_at),
        (later.pk, "dmz", later.next_due_at),
    ]


def test_the_claim_takes_enabled_checks_due_within_the_next_dispatch_period(db, reclaim):
    now = timezone.now()
    overdue = CheckFactory(next_due_at=now - timedelta(minutes=5))
    soon = CheckFactory(next_due_at=now + timedelta(seconds=4))
    CheckFactory(next_due_at=now + timedelta(seconds=6))  # after the next dispatch
    CheckFactory(next_due_at=now - timedelta(seconds=1), enabled=False)
    CheckFactory(next_due_at=None)  # never scheduled

    assert {claim.check_id for claim in engine.claim_due(now)} == {overdue.pk, soon.pk}


def test_a_claimed_check_carries_a_lease_of_its_due_time_plus_timeout_plus_the_reclaim_delay(db, reclaim):
    now = timezone.now()
    overdue = CheckFactory(next_due_at=now - timedelta(minutes=5), timeout=4)
    soon = CheckFactory(next_due_at=now + timedelta(seconds=3), timeout=2.5)

    claims = {claim.check_id: claim for claim in engine.claim_due(now)}

    overdue.refresh_from_db()
    soon.refresh_from_db()
    # (to the millisecond: SQLite keeps no finer)
    assert abs(overdue.claimed_until - (now + timedelta(seconds=4 + 30))) < timedelta(milliseconds=1)
    assert abs(soon.claimed_until - (soon.next_due_at + timedelta(seconds=2.5 + 30))) < timedelta(milliseconds=1)
    assert claims[soon.pk].lease == soon.claimed_until


def test_a_claimed_check_is_not_claimed_again_until_its_lease_expires(db, reclaim):
    now = timezone.now()
    (check,) = due_checks(1, due=now, timeout=5)
    assert len(engine.claim_due(now)) == 1

    assert engine.claim_due(now + timedelta(seconds=1)) == []
    assert engine.claim_due(now + timedelta(seconds=5 + 30 - 1)) == []
    reclaimed = engine.claim_due(now + timedelta(seconds=5 + 30 + 1))
    assert [claim.check_id for claim in reclaimed] == [check.pk]


def test_a_claim_takes_at_most_its_limit_and_leaves_the_rest_for_the_next(db, reclaim):
    due_checks(5)
    first = engine.claim_due(limit=3)
    second = engine.claim_due(limit=3)
    assert len(first) == 3 and len(second) == 2
    assert not {c.check_id for c in first} & {c.check_id for c in second}


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(120)
def test_two_dispatchers_claiming_at_once_never_claim_the_same_check(reclaim):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent dispatchers need PostgreSQL (SQLite has one writer at a time)")
    importlib.import_module("cmdb.migrations.0002_catalogue").seed(django_apps, None)
    checks = due_checks(400)
    claimed = []
    for _ in range(3):  # several rounds: the leases expire in between
        Check.objects.update(claimed_until=None)
        barrier = threading.Barrier(2)

        def dispatcher(barrier=barrier):
            try:
                barrier.wait(timeout=30)
                return [claim.check_id for claim in engine.claim_due(limit=250)]
            finally:
                connection.close()

        with ThreadPoolExecutor(max_workers=2) as pool:
            first, second = (future.result() for future in [pool.submit(dispatcher) for _ in range(2)])
        claimed.append((first, second))

    for first, second in claimed:
        assert not set(first) & set(second)
        assert len(first) == len(set(first)) and len(second) == len(set(second))
        assert set(first) | set(second) == {check.pk for check in checks}


# --- dispatch -------------------------------------------------------------------------------------


def queued(queue):
    """The tasks waiting in Redis on ``queue``: ``[(task name, args)]``."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        messages = [json.loads(raw) for raw in client.lrange(queue, 0, -1)]
    finally:
        client.close()
    found = []
    for message in reversed(messages):  # kombu pushes on the left
        body = json.loads(base64.b64decode(message["body"]))
        found.append((message["headers"]["task"], body[0]))
    return found


@pytest.fixture
def zone_queue():
    """A zone of its own (so its queue holds this test's messages only), emptied after."""
    name = f"test-{timezone.now().strftime('%H%M%S%f')}"
    yield name
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        client.delete(f"poll.{name}")
    finally:
        client.close()


def test_dispatch_sends_batches_of_the_batch_size_to_the_zones_queue_after_commit(
    db, reclaim, zone_queue, django_capture_on_commit_callbacks
):
    reclaim.MONITORING_BATCH_SIZE = 2
    zone = ZoneFactory(name=zone_queue)
    checks = due_checks(5, zone=zone)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert engine.dispatch() == 5
    assert queued(f"poll.{zone_queue}") == []  # nothing sent before the commit
    for callback in callbacks:
        callback()

    batches = queued(f"poll.{zone_queue}")
    assert [name for name, _ in batches] == ["monitoring.tasks.run_check_batch"] * 3
    assert [len(args[0]) for _, args in batches] == [2, 2, 1]
    assert sorted(pk for _, args in batches for pk in args[0]) == sorted(check.pk for check in checks)
    # Each batch carries the lease of each of its checks.
    leases = {pk: lease for _, (ids, sent) in batches for pk, lease in zip(ids, sent, strict=True)}
    for check in Check.objects.filter(pk__in=leases):
        assert leases[check.pk] == check.claimed_until.isoformat()


def test_dispatch_with_nothing_due_sends_nothing(db, reclaim, zone_queue, django_capture_on_commit_callbacks):
    ZoneFactory(name=zone_queue)
    with django_capture_on_commit_callbacks(execute=True):
        assert engine.dispatch() == 0
    assert queued(f"poll.{zone_queue}") == []


def test_batches_group_by_zone_and_keep_the_soonest_due_first(db, reclaim):
    now = timezone.now()
    dmz = ZoneFactory(name="dmz")
    a = CheckFactory(next_due_at=now - timedelta(seconds=3))
    b = CheckFactory(next_due_at=now - timedelta(seconds=2), zone=dmz)
    c = CheckFactory(next_due_at=now - timedelta(seconds=1))
    batches = engine.batches(engine.claim_due(now), size=10)
    assert [(zone, [claim.check_id for claim in batch]) for zone, batch in batches] == [
        ("default", [a.pk, c.pk]),
        ("dmz", [b.pk]),
    ]
