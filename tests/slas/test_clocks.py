"""``slas.services.sync_clocks``: clocks start, pause, resume, retarget, stop, reopen and cancel as
the incident changes, in business time, and every step leaves an event saying why."""

import datetime as dt
import threading

import pytest
from django.db import connections

from slas import events
from slas.models import SLAClock, SLAClockEvent
from slas.services import matching_policy, sync_clocks
from tests.factories import CIFactory, IncidentFactory, TeamFactory, business_calendar, ci_class, sla_policy
from tests.slas.conftest import paris, subject

pytestmark = pytest.mark.django_db

MONDAY_4PM = paris(2026, 7, 6, 16, 0)  # office hours 09:00–17:00 Mon–Fri, Europe/Paris


@pytest.fixture
def policy():
    return sla_policy()  # response P3 60 min, resolution P3 960 min (two working days)


@pytest.fixture
def incident():
    return IncidentFactory()


def clocks_by_metric(clocks):
    return {clock.metric: clock for clock in clocks}


def kinds(clock):
    return list(SLAClockEvent.objects.filter(clock=clock).order_by("time", "id").values_list("kind", flat=True))


def test_a_new_incident_starts_both_clocks_with_due_times_in_business_time(policy, incident):
    clocks = clocks_by_metric(sync_clocks(incident, subject(priority=3), at=MONDAY_4PM))

    response, resolution = clocks["response"], clocks["resolution"]
    assert response.state == resolution.state == "running"
    assert response.policy == policy and response.calendar == policy.calendar
    assert response.target_seconds == 3600 and resolution.target_seconds == 960 * 60
    assert response.due_at == paris(2026, 7, 6, 17, 0)
    # 16h of business time: Monday 16–17 (1 h), Tuesday 09–17 (8 h), Wednesday 09–16 (7 h).
    assert resolution.due_at == paris(2026, 7, 8, 16, 0)
    # The first warning (75%) of the response clock falls 45 minutes in.
    assert (response.warning_pct, response.warning_at) == (75, paris(2026, 7, 6, 16, 45))
    started = SLAClockEvent.objects.get(clock=response)
    assert started.kind == "started"
    assert "Standard" in started.reason and "1 h" in started.reason
    assert started.data["calendar"] == policy.calendar_id and started.data["target_seconds"] == 3600


def test_a_clock_started_out_of_hours_waits_for_the_next_working_morning(policy, incident):
    friday_evening = paris(2026, 7, 10, 19, 30)
    response = clocks_by_metric(sync_clocks(incident, subject(), at=friday_evening))["response"]
    assert response.due_at == paris(2026, 7, 13, 10, 0)  # Monday 09:00 + 1 h


def test_pausing_keeps_the_time_counted_and_resuming_moves_the_due_time_later(policy, incident):
    sync_clocks(incident, subject(), at=MONDAY_4PM)
    paused = clocks_by_metric(
        sync_clocks(
            incident, subject(state="on_hold", pause_reason="On hold: awaiting caller"), at=paris(2026, 7, 6, 16, 30)
        )
    )["response"]
    assert paused.state == "paused"
    assert paused.elapsed_seconds == pytest.approx(1800)
    assert paused.due_at is None and paused.warning_at is None
    assert SLAClockEvent.objects.filter(clock=paused, kind="paused").get().reason == "On hold: awaiting caller"

    resumed = clocks_by_metric(sync_clocks(incident, subject(state="in_progress"), at=paris(2026, 7, 7, 10, 0)))[
        "response"
    ]
    assert resumed.state == "running"
    assert resumed.running_since == paris(2026, 7, 7, 10, 0)
    assert resumed.due_at == paris(2026, 7, 7, 10, 30)  # the 30 minutes left, from the resume
    assert resumed.warning_at == paris(2026, 7, 7, 10, 15)  # 75% = 45 min: 30 counted + 15 more
    assert kinds(resumed) == ["started", "paused", "resumed"]


def test_a_sync_that_changes_nothing_writes_nothing(policy, incident):
    sync_clocks(incident, subject(), at=MONDAY_4PM)
    before = SLAClockEvent.objects.count()
    stamps = dict(SLAClock.objects.values_list("pk", "updated_at"))
    sync_clocks(incident, subject(state="in_progress"), at=paris(2026, 7, 6, 16, 10))
    assert SLAClockEvent.objects.count() == before
    assert dict(SLAClock.objects.values_list("pk", "updated_at")) == stamps


def test_a_priority_change_retargets_the_open_clocks_and_recomputes_the_due_time(policy, incident):
    sync_clocks(incident, subject(priority=3), at=MONDAY_4PM)
    clocks = clocks_by_metric(sync_clocks(incident, subject(priority=2), at=paris(2026, 7, 6, 16, 10)))
    response = clocks["response"]
    assert response.priority == 2 and response.target_seconds == 30 * 60
    assert response.due_at == paris(2026, 7, 6, 16, 30)  # counted from the start: 10 min done, 20 to go
    assert response.elapsed_seconds == pytest.approx(600)
    event = SLAClockEvent.objects.get(clock=response, kind="retargeted")
    assert event.reason.startswith("Priority P3 → P2: target 1 h → 30 min")
    assert clocks["resolution"].target_seconds == 480 * 60


def test_a_tighter_target_already_behind_the_clock_is_breached_when_it_passed(policy, incident):
    sync_clocks(incident, subject(priority=3), at=MONDAY_4PM)
    response = clocks_by_metric(sync_clocks(incident, subject(priority=1), at=paris(2026, 7, 6, 16, 40)))["response"]
    # P1's 15 minutes passed at 16:15, before the priority changed: the breach is dated then.
    assert response.breached_at == paris(2026, 7, 6, 16, 15)
    assert response.due_at == paris(2026, 7, 6, 16, 15)
    assert response.state == "running"


def test_a_priority_change_switches_to_the_policy_that_now_matches(incident):
    office = business_calendar()
    always = business_calendar(name="24 × 7", days=())
    always.always_open = True
    always.save()
    sla_policy(name="Critical", calendar=always, priorities=[1, 2], order=10, response={1: 15, 2: 30})
    standard = sla_policy(name="Standard", calendar=office, priorities=[3, 4, 5], order=20)
    friday_evening = paris(2026, 7, 10, 18, 0)
    response = clocks_by_metric(sync_clocks(incident, subject(priority=3), at=friday_evening))["response"]
    assert response.policy == standard and response.due_at == paris(2026, 7, 13, 10, 0)

    response = clocks_by_metric(sync_clocks(incident, subject(priority=1), at=paris(2026, 7, 10, 18, 5)))["response"]
    assert response.policy.name == "Critical" and response.calendar == always
    assert response.due_at == paris(2026, 7, 10, 18, 20)  # round the clock from now: no time counted yet
    assert "calendar “24 × 7”" in SLAClockEvent.objects.get(clock=response, kind="retargeted").reason


def test_a_priority_without_a_target_keeps_the_current_one_and_says_so(incident):
    sla_policy(response={3: 60}, resolution={3: 960})
    sync_clocks(incident, subject(priority=3), at=MONDAY_4PM)
    response = clocks_by_metric(sync_clocks(incident, subject(priority=5), at=paris(2026, 7, 6, 16, 5)))["response"]
    assert response.priority == 5 and response.target_seconds == 3600
    assert "no SLA target for P5" in SLAClockEvent.objects.get(clock=response, kind="retargeted").reason


def test_the_first_response_stops_the_response_clock_as_met(policy, incident):
    sync_clocks(incident, subject(), at=MONDAY_4PM)
    clocks = clocks_by_metric(
        sync_clocks(incident, subject(state="in_progress", responded=True), at=paris(2026, 7, 6, 16, 20))
    )
    response = clocks["response"]
    assert response.state == "met" and response.stopped_at == paris(2026, 7, 6, 16, 20)
    assert response.elapsed_seconds == pytest.approx(1200)
    assert response.warning_at is None and response.running_since is None
    assert SLAClockEvent.objects.get(clock=response, kind="met").reason.startswith("First response given: met")
    assert clocks["resolution"].state == "running"


def test_a_late_stop_is_breached_and_announced_once(policy, incident, django_capture_on_commit_callbacks):
    received = []

    def receiver(sender, clocks, **kwargs):
        received.extend((clock.metric, clock.breached_at) for clock in clocks)

    events.sla_breached.connect(receiver)
    try:
        sync_clocks(incident, subject(), at=MONDAY_4PM)
        with django_capture_on_commit_callbacks(execute=True):
            response = clocks_by_metric(
                sync_clocks(incident, subject(state="in_progress", responded=True), at=paris(2026, 7, 7, 9, 30))
            )["response"]
        assert response.state == "breached"
        assert response.breached_at == paris(2026, 7, 6, 17, 0)  # when the hour of business time ran out
        assert received == [("response", paris(2026, 7, 6, 17, 0))]
        assert kinds(response) == ["started", "breached", "stopped"]
        # A later sync does not announce it again.
        with django_capture_on_commit_callbacks(execute=True):
            sync_clocks(incident, subject(state="in_progress", responded=True), at=paris(2026, 7, 7, 9, 40))
        assert len(received) == 1
    finally:
        events.sla_breached.disconnect(receiver)


def test_resolving_stops_the_resolution_clock_and_reopening_restarts_it(policy, incident):
    sync_clocks(incident, subject(), at=MONDAY_4PM)
    done = clocks_by_metric(
        sync_clocks(incident, subject(state="resolved", responded=True, done=True), at=paris(2026, 7, 7, 10, 0))
    )["resolution"]
    assert done.state == "met" and done.elapsed_seconds == pytest.approx(2 * 3600)

    reopened = clocks_by_metric(
        sync_clocks(incident, subject(state="in_progress", responded=True), at=paris(2026, 7, 7, 11, 0))
    )["resolution"]
    assert reopened.state == "running" and reopened.stopped_at is None
    assert reopened.elapsed_seconds == pytest.approx(2 * 3600)  # the hour while resolved did not count
    # 14 h left from Tuesday 11:00: Tue 11–17 (6 h), Wed 8 h → Wednesday 17:00.
    assert reopened.due_at == paris(2026, 7, 8, 17, 0)
    assert kinds(reopened) == ["started", "met", "reopened"]


def test_canceling_cancels_every_open_clock_and_leaves_stopped_ones(policy, incident):
    sync_clocks(incident, subject(), at=MONDAY_4PM)
    sync_clocks(incident, subject(state="in_progress", responded=True), at=paris(2026, 7, 6, 16, 10))
    clocks = clocks_by_metric(
        sync_clocks(incident, subject(state="canceled", responded=True, canceled=True), at=paris(2026, 7, 6, 16, 30))
    )
    assert clocks["response"].state == "met"
    assert clocks["resolution"].state == "canceled"
    assert clocks["resolution"].elapsed_seconds == pytest.approx(1800)
    assert kinds(clocks["resolution"]) == ["started", "canceled"]


def test_no_clock_starts_for_a_canceled_or_done_subject_or_without_a_matching_policy(incident):
    assert sync_clocks(incident, subject(), at=MONDAY_4PM) == []  # no policy at all
    sla_policy(priorities=[1])
    assert sync_clocks(incident, subject(priority=3), at=MONDAY_4PM) == []
    assert sync_clocks(incident, subject(priority=1, canceled=True, state="canceled"), at=MONDAY_4PM) == []
    assert sync_clocks(incident, subject(priority=1, done=True, state="resolved"), at=MONDAY_4PM) == []
    assert not SLAClock.objects.exists()


def test_a_subject_created_on_hold_starts_paused(policy, incident):
    clocks = sync_clocks(incident, subject(state="on_hold"), at=MONDAY_4PM)
    assert {clock.state for clock in clocks} == {"paused"}
    assert all(clock.due_at is None for clock in clocks)


# --- which policy applies ------------------------------------------------------------------


def test_the_first_active_matching_policy_in_order_applies():
    calendar = business_calendar()
    sla_policy(name="Inactive", calendar=calendar, order=1, active=False)
    second = sla_policy(name="Second", calendar=calendar, order=20)
    first = sla_policy(name="First", calendar=calendar, order=10, priorities=[1, 2])
    assert matching_policy(subject(priority=1)) == first
    assert matching_policy(subject(priority=3)) == second


def test_a_policy_matches_on_team_ci_class_with_its_subclasses_and_business_service():
    calendar = business_calendar()
    network = TeamFactory(name="Network")
    fallback = sla_policy(name="Everything", calendar=calendar, order=100)
    by_team = sla_policy(name="Network team", calendar=calendar, order=10)
    by_team.teams.add(network)
    by_class = sla_policy(name="Servers", calendar=calendar, order=20)
    by_class.ci_classes.add(ci_class("server"))
    shop = CIFactory(name="Online shop", ci_class=ci_class("business-service"))
    by_service = sla_policy(name="Shop", calendar=calendar, order=30)
    by_service.business_services.add(shop)

    assert matching_policy(subject(team_id=network.pk)) == by_team
    linux = ci_class("linux-server")
    assert linux.parent_id is not None  # a subclass of Server
    assert matching_policy(subject(ci_class_ids=frozenset({linux.pk}))) == by_class
    assert matching_policy(subject(business_service_ids=frozenset({shop.pk}))) == by_service
    assert matching_policy(subject(ci_class_ids=frozenset({ci_class("switch").pk}))) == fallback


def test_a_policy_without_a_target_at_the_priority_is_skipped():
    calendar = business_calendar()
    sla_policy(name="Only P1", calendar=calendar, order=1, response={1: 15}, resolution={1: 60})
    general = sla_policy(name="General", calendar=calendar, order=2)
    assert matching_policy(subject(priority=4)) == general


def test_clocks_follow_any_object_through_the_generic_relation(policy):
    team = TeamFactory()  # not an incident: the SLA app knows nothing of what it times
    clocks = sync_clocks(team, subject(), at=MONDAY_4PM)
    assert {c.content_type.model for c in clocks} == {"team"}
    assert all(c.object_id == team.pk for c in clocks)


def test_times_given_in_any_zone_are_the_same_instant(policy, incident):
    utc = MONDAY_4PM.astimezone(dt.UTC)
    response = clocks_by_metric(sync_clocks(incident, subject(), at=utc))["response"]
    assert response.due_at == paris(2026, 7, 6, 17, 0)


def test_a_naive_time_is_refused(policy, incident):
    with pytest.raises(ValueError, match="naive"):
        sync_clocks(incident, subject(), at=dt.datetime(2026, 7, 6, 16, 0))
    assert not SLAClock.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_first_syncs_at_once_start_one_set_of_clocks():
    sla_policy()
    incident = IncidentFactory()
    barrier, errors = threading.Barrier(2), []

    def first_sync():
        try:
            barrier.wait(10)
            sync_clocks(incident, subject(), at=MONDAY_4PM)
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=first_sync) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert sorted(SLAClock.objects.filter(object_id=incident.pk).values_list("metric", flat=True)) == [
        "resolution",
        "response",
    ]
    assert SLAClockEvent.objects.filter(kind="started").count() == 2


# --- calendar changes ------------------------------------------------------------------------


def test_a_holiday_added_ahead_moves_the_due_time_of_running_clocks(policy, incident):
    from slas.explain import explain
    from slas.services import add_holiday

    sync_clocks(incident, subject(), at=MONDAY_4PM)  # resolution due Wednesday 16:00
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("django.utils.timezone.now", lambda: paris(2026, 7, 6, 16, 30))
        add_holiday(policy.calendar, dt.date(2026, 7, 7), "Company day off")
    resolution = clocks_by_metric(sync_clocks(incident, subject(), at=paris(2026, 7, 6, 16, 45)))["resolution"]
    assert resolution.elapsed_seconds == pytest.approx(1800)  # 16:00–16:30 on the old calendar
    assert resolution.due_at == paris(2026, 7, 9, 16, 0)  # Tuesday off: one working day later
    event = SLAClockEvent.objects.get(clock=resolution, kind="retargeted")
    assert event.reason.startswith("Calendar “Office hours” changed")
    explanation = explain(resolution, now=paris(2026, 7, 6, 16, 45))
    assert explanation.counted_seconds == pytest.approx(45 * 60)
    assert explanation.due_at == explanation.segments[-1].end


def test_a_calendar_edit_that_changes_nothing_counted_leaves_the_clocks_alone(policy, incident):
    from slas.services import save_calendar

    sync_clocks(incident, subject(), at=MONDAY_4PM)
    calendar = policy.calendar
    calendar.description = "Renamed only"
    save_calendar(calendar)
    assert not SLAClockEvent.objects.filter(kind="retargeted").exists()


def test_new_working_hours_apply_from_the_change_and_paused_clocks_wait_for_their_resume(policy, incident):
    from slas.services import save_calendar

    other = IncidentFactory()
    sync_clocks(incident, subject(), at=MONDAY_4PM)
    sync_clocks(other, subject(), at=MONDAY_4PM)
    sync_clocks(other, subject(state="on_hold"), at=paris(2026, 7, 6, 16, 15))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("django.utils.timezone.now", lambda: paris(2026, 7, 6, 16, 30))
        save_calendar(policy.calendar, hours=[(day, dt.time(9), dt.time(19)) for day in range(5)])
    response = clocks_by_metric(sync_clocks(incident, subject(), at=paris(2026, 7, 6, 16, 31)))["response"]
    assert response.elapsed_seconds == pytest.approx(1800)
    assert response.due_at == paris(2026, 7, 6, 17, 0)  # 30 minutes left, now within 09:00–19:00
    resolution = clocks_by_metric(sync_clocks(incident, subject(), at=paris(2026, 7, 6, 16, 31)))["resolution"]
    # 15 h 30 left: Monday 16:30–19:00 (2 h 30), Tuesday 10 h, Wednesday 09:00 + 3 h.
    assert resolution.due_at == paris(2026, 7, 8, 12, 0)
    paused = clocks_by_metric(sync_clocks(other, subject(state="in_progress"), at=paris(2026, 7, 7, 9, 0)))
    assert not SLAClockEvent.objects.filter(clock=paused["response"], kind="retargeted").exists()
    assert paused["response"].due_at == paris(2026, 7, 7, 9, 45)
