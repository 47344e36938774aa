"""The SLA scan: breaches and warnings marked set-based, each once, with events and signals after
commit; rows another transaction holds are left for the next scan."""

import threading

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from slas import events
from slas.models import SLAClock, SLAClockEvent
from slas.services import scan, scanning, sync_clocks
from slas.tasks import scan_sla_clocks
from tests.factories import IncidentFactory, business_calendar, sla_policy
from tests.slas.conftest import paris, subject

MONDAY_9AM = paris(2026, 7, 6, 9, 0)  # office hours 09:00–17:00 Mon–Fri, Europe/Paris


@pytest.fixture(params=["set-based", "portable"])
def sql_path(request, monkeypatch):
    """Every scan test runs twice: PostgreSQL's single statements and the portable (SQLite) path."""
    if request.param == "portable":
        monkeypatch.setattr(scanning, "_set_based_sql", lambda: False)
    return request.param


@pytest.fixture
def policy(db):
    # P3: response 60 min, resolution 960 min; warnings at 75% and 90%.
    return sla_policy()


def start(count=1, at=MONDAY_9AM, **fields):
    incidents = [IncidentFactory() for _ in range(count)]
    for incident in incidents:
        sync_clocks(incident, subject(**fields), at=at)
    return incidents


class Received:
    def __init__(self):
        self.warnings, self.breaches = [], []

    def warning(self, sender, clocks, **kwargs):
        self.warnings.append([(c.content_type.model, c.object_id, c.metric, c.warned_pct) for c in clocks])

    def breach(self, sender, clocks, **kwargs):
        self.breaches.append([(c.content_type.model, c.object_id, c.metric, c.breached_at) for c in clocks])


@pytest.fixture
def received():
    listener = Received()
    events.sla_warning.connect(listener.warning)
    events.sla_breached.connect(listener.breach)
    yield listener
    events.sla_warning.disconnect(listener.warning)
    events.sla_breached.disconnect(listener.breach)


@pytest.mark.django_db
def test_a_scan_marks_each_clock_past_its_due_time_as_breached_once(
    policy, sql_path, received, django_capture_on_commit_callbacks
):
    incidents = start(3)
    with django_capture_on_commit_callbacks(execute=True):
        result = scan(now=paris(2026, 7, 6, 10, 30))  # responses due 10:00; resolutions not yet
    assert result == {"warned": 0, "breached": 3}
    clocks = SLAClock.objects.filter(metric="response")
    assert {c.breached_at for c in clocks} == {paris(2026, 7, 6, 10, 0)}
    assert {c.state for c in clocks} == {"running"}  # still counting: the outcome comes with the stop
    assert all(c.warning_at is None for c in clocks)
    breached_events = SLAClockEvent.objects.filter(kind="breached")
    assert breached_events.count() == 3
    assert {e.time for e in breached_events} == {paris(2026, 7, 6, 10, 0)}
    assert all(e.data == {"target_seconds": 3600, "priority": 3} for e in breached_events)
    assert sorted(received.breaches[0]) == sorted(
        ("incident", i.pk, "response", paris(2026, 7, 6, 10, 0)) for i in incidents
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert scan(now=paris(2026, 7, 6, 10, 31)) == {"warned": 0, "breached": 0}
    assert len(received.breaches) == 1


@pytest.mark.django_db
def test_paused_stopped_and_unstarted_clocks_are_left_alone(policy, sql_path):
    [paused] = start(1)
    sync_clocks(paused, subject(state="on_hold"), at=paris(2026, 7, 6, 9, 30))
    [met] = start(1)
    sync_clocks(met, subject(state="in_progress", responded=True), at=paris(2026, 7, 6, 9, 10))
    assert scan(now=paris(2026, 7, 6, 11, 0)) == {"warned": 0, "breached": 0}
    assert not SLAClock.objects.filter(breached_at__isnull=False).exists()


@pytest.mark.django_db
def test_a_warning_is_claimed_once_and_the_next_threshold_is_planned(
    policy, sql_path, received, django_capture_on_commit_callbacks
):
    [incident] = start(1)
    with django_capture_on_commit_callbacks(execute=True):
        assert scan(now=paris(2026, 7, 6, 9, 50)) == {"warned": 1, "breached": 0}  # 50 of 60 min: 83%
    response = SLAClock.objects.get(metric="response")
    assert response.warned_pct == 75
    assert (response.warning_pct, response.warning_at) == (90, paris(2026, 7, 6, 9, 54))
    event = SLAClockEvent.objects.get(clock=response, kind="warning")
    assert event.time == paris(2026, 7, 6, 9, 45) and event.data["pct"] == 75
    assert received.warnings == [[("incident", incident.pk, "response", 75)]]

    with django_capture_on_commit_callbacks(execute=True):
        assert scan(now=paris(2026, 7, 6, 9, 52)) == {"warned": 0, "breached": 0}
        assert scan(now=paris(2026, 7, 6, 9, 55)) == {"warned": 1, "breached": 0}
    response.refresh_from_db()
    assert (response.warned_pct, response.warning_pct, response.warning_at) == (90, None, None)
    assert received.warnings[-1] == [("incident", incident.pk, "response", 90)]


@pytest.mark.django_db
def test_a_clock_that_passed_two_thresholds_since_the_last_scan_is_warned_once_at_the_higher(
    policy, sql_path, received, django_capture_on_commit_callbacks
):
    start(1)
    with django_capture_on_commit_callbacks(execute=True):
        assert scan(now=paris(2026, 7, 6, 9, 56)) == {"warned": 1, "breached": 0}  # 93%
    response = SLAClock.objects.get(metric="response")
    assert response.warned_pct == 90 and response.warning_at is None
    event = SLAClockEvent.objects.get(clock=response, kind="warning")
    assert event.time == paris(2026, 7, 6, 9, 54) and event.data["pct"] == 90
    assert [batch[0][3] for batch in received.warnings] == [90]


@pytest.mark.django_db
def test_a_clock_past_its_due_time_is_breached_without_a_warning(policy, sql_path, received):
    start(1)
    assert scan(now=paris(2026, 7, 6, 10, 5)) == {"warned": 0, "breached": 1}
    response = SLAClock.objects.get(metric="response")
    assert response.warned_pct == 0 and not SLAClockEvent.objects.filter(kind="warning").exists()


@pytest.mark.django_db
def test_warnings_fall_in_business_time(sql_path):
    sla_policy(calendar=business_calendar(), response={3: 240})  # 4 h: warnings at 3 h and 3 h 36 min
    start(1, at=paris(2026, 7, 10, 15, 0))  # Friday 15:00: 2 h on Friday, the rest on Monday
    response = SLAClock.objects.get(metric="response")
    assert response.warning_at == paris(2026, 7, 13, 10, 0)
    assert scan(now=paris(2026, 7, 11, 12, 0))["warned"] == 0  # Saturday: nothing counts
    assert scan(now=paris(2026, 7, 13, 10, 5))["warned"] == 1
    response.refresh_from_db()
    assert response.warning_at == paris(2026, 7, 13, 10, 36)
    assert response.due_at == paris(2026, 7, 13, 11, 0)


@pytest.mark.django_db
def test_the_scan_costs_the_same_number_of_queries_for_few_or_many_clocks(policy):
    def queries_for(count, day):
        start(count, at=paris(2026, 7, day, 9, 0))
        with CaptureQueriesContext(connection) as context:
            result = scan(now=paris(2026, 7, day, 9, 50))
        assert result["warned"] == count
        with CaptureQueriesContext(connection) as later:
            scan(now=paris(2026, 7, day, 10, 30))
        return len(context.captured_queries), len(later.captured_queries)

    assert queries_for(2, 6) == queries_for(30, 7)


@pytest.mark.django_db
def test_the_task_runs_the_scan(policy):
    start(2)
    from django.utils import timezone

    assert timezone.now() > paris(2026, 7, 6, 10, 0)
    assert scan_sla_clocks.apply().get() == {"warned": 0, "breached": 4}  # responses and resolutions


@pytest.mark.django_db(transaction=True)
def test_clocks_another_transaction_holds_are_skipped_and_taken_by_the_next_scan(policy):
    incidents = start(2)
    held = SLAClock.objects.get(object_id=incidents[0].pk, metric="response")
    locked, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                list(SLAClock.objects.select_for_update().filter(pk=held.pk))
                locked.set()
                release.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert locked.wait(10)
        assert scan(now=paris(2026, 7, 6, 10, 30)) == {"warned": 0, "breached": 1}
        held.refresh_from_db()
        assert held.breached_at is None
    finally:
        release.set()
        thread.join(10)
    assert scan(now=paris(2026, 7, 6, 10, 31)) == {"warned": 0, "breached": 1}
    held.refresh_from_db()
    assert held.breached_at == paris(2026, 7, 6, 10, 0)
    assert SLAClockEvent.objects.filter(clock=held, kind="breached").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_scans_at_once_mark_each_breach_once(policy):
    start(20)
    results, barrier = [], threading.Barrier(2)

    def run():
        try:
            barrier.wait(10)
            results.append(scan(now=paris(2026, 7, 6, 10, 30)))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sum(r["breached"] for r in results) == 20
    assert SLAClockEvent.objects.filter(kind="breached").count() == 20


@pytest.mark.django_db
def test_a_failing_receiver_does_not_stop_the_others(policy, django_capture_on_commit_callbacks):
    seen = []

    def broken(sender, clocks, **kwargs):
        raise RuntimeError("receiver bug")

    def working(sender, clocks, **kwargs):
        seen.extend(clocks)

    events.sla_breached.connect(broken)
    events.sla_breached.connect(working)
    try:
        start(1)
        with django_capture_on_commit_callbacks(execute=True):
            scan(now=paris(2026, 7, 6, 10, 30))
    finally:
        events.sla_breached.disconnect(broken)
        events.sla_breached.disconnect(working)
    assert len(seen) == 1
