"""One problem reported by many workers at once, on PostgreSQL with real threads (each with its
own database connection) and committed data: 100 failures of one fingerprint make one alert that
counts 100 occurrences and one incident. And the losers of each race — the insert of the alert,
the insert of the incident — take the winner's row: the IntegrityError fallbacks, forced by
holding the winner's transaction open until the loser waits on the unique index."""

import importlib
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.apps import apps as django_apps
from django.db import connection, transaction
from django.utils import timezone

from incidents.models import Incident
from incidents.services import alerts as incident_alerts
from monitoring.models import Alert
from monitoring.services import alerts
from tests.factories import CIFactory, TeamFactory
from tests.monitoring.factories import CheckFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

WORKERS = 50  # threads, each with its own connection (PostgreSQL allows 100 by default)
T0 = timezone.now().replace(microsecond=0) - timedelta(hours=1)


@pytest.fixture(autouse=True)
def seeded(transactional_db):
    """The data migrations' rows (the CI catalogue, the priority matrix, the default zone), seeded
    again when an earlier transactional test flushed them."""
    importlib.import_module("cmdb.migrations.0002_catalogue").seed(django_apps, None)
    importlib.import_module("incidents.migrations.0002_priority_matrix").seed(django_apps, None)
    importlib.import_module("monitoring.migrations.0002_default_zone").create_default_zone(django_apps, None)


@pytest.fixture
def check():
    team = TeamFactory(name="Web")
    return CheckFactory(name="HTTPS port", ci=CIFactory(name="web-01", owner_team=team), severity="critical")


def in_parallel(calls):
    """Run ``calls`` on ``WORKERS`` threads, each with its own connection, released together;
    returns the results in order."""
    barrier = threading.Barrier(WORKERS)
    shares = [calls[n::WORKERS] for n in range(WORKERS)]

    def run(share):
        try:
            barrier.wait(timeout=30)
            return [call() for call in share]
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        done = list(pool.map(run, shares))
    return [result for share in done for result in share]


def wait_until_a_session_waits_for_a_lock():
    """Block until another connection to this test database waits on a lock (the loser of a
    race on a unique index waits for the winner's transaction to end)."""
    for _ in range(3000):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0]:
                return
        threading.Event().wait(0.01)
    raise AssertionError("the second writer never waited for the first one's lock")


def winner_and_loser(first, second):
    """Run ``first`` in a transaction held open until ``second`` (in another thread) waits on a
    lock, then commit it; returns both results."""
    holding, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                result = first()
                holding.set()
                release.wait(30)
            return result
        finally:
            holding.set()
            connection.close()

    def follow():
        try:
            holding.wait(30)
            return second()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        winner, loser = pool.submit(hold), pool.submit(follow)
        holding.wait(30)
        try:
            wait_until_a_session_waits_for_a_lock()
        finally:
            release.set()
        return winner.result(), loser.result()


def test_a_hundred_failures_of_one_check_at_once_make_one_alert_of_a_hundred_occurrences_and_one_incident(check):
    assert connection.vendor == "postgresql"
    reports = [
        (lambda n=n: alerts.check_problem(check, status="down", message=f"Refused ({n})", at=T0 + timedelta(seconds=n)))
        for n in range(100)
    ]

    fired = in_parallel(reports)

    alert = Alert.objects.get()
    assert {a.pk for a in fired} == {alert.pk}
    assert (alert.status, alert.occurrences) == ("firing", 100)
    assert (alert.first_seen, alert.last_seen) == (T0, T0 + timedelta(seconds=99))
    incident = Incident.objects.get()
    assert alert.incident == incident and incident.alert_fingerprint == f"check:{check.pk}"
    assert incident.title == "[web-01] HTTPS port" and incident.assignment_team.name == "Web"


def test_a_storm_over_five_fingerprints_at_once_makes_five_alerts_and_five_incidents():
    reports = [
        (lambda n=n: alerts.fire(f"am:{n % 5}", source="alertmanager", name=f"Alert {n % 5}", severity="major"))
        for n in range(100)
    ]

    in_parallel(reports)

    assert sorted(Alert.objects.values_list("fingerprint", "occurrences")) == [(f"am:{n}", 20) for n in range(5)]
    assert Incident.objects.count() == 5
    assert set(Incident.objects.values_list("alert_fingerprint", flat=True)) == {f"am:{n}" for n in range(5)}


def test_the_writer_that_loses_the_race_to_insert_the_alert_adds_to_the_winners(check):
    def report(n):
        return lambda: alerts.check_problem(check, status="down", message="Refused", at=T0 + timedelta(seconds=n))

    first, second = winner_and_loser(report(0), report(1))

    assert first.pk == second.pk
    alert = Alert.objects.get()
    assert (alert.occurrences, alert.last_seen) == (2, T0 + timedelta(seconds=1))
    assert Incident.objects.count() == 1 and alert.incident_id == first.incident_id


def test_two_incidents_opened_for_one_fingerprint_at_once_make_one(check):
    def open_one():
        return incident_alerts.open_from_alert(
            fingerprint="am:db-down", title="Database down", impact=1, urgency=1, affected_cis=[check.ci_id]
        )

    (first, first_created), (second, second_created) = winner_and_loser(open_one, open_one)

    assert (first_created, second_created) == (True, False)
    assert first == second and Incident.objects.get() == first
