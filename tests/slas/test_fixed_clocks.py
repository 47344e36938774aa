"""``slas.services.start_fixed_clocks`` / ``stop_clock`` / ``cancel_clocks``: clocks whose targets
and calendar the caller gives (no policy) count business time, stop met or breached, cancel, and
the scan warns and breaches them like any other."""

import pytest

from slas import events
from slas.models import SLAClock, SLAClockEvent
from slas.services import cancel_clocks, scan, start_fixed_clocks, stop_clock
from tests.factories import IncidentFactory, business_calendar
from tests.slas.conftest import paris

pytestmark = pytest.mark.django_db

FRIDAY_4PM = paris(2026, 7, 10, 16, 0)  # office hours 09:00–17:00 Mon–Fri, Europe/Paris
HOURS = 3600


@pytest.fixture
def calendar():
    return business_calendar()


@pytest.fixture
def thing():
    return IncidentFactory()  # any saved object can carry clocks


def by_metric(clocks):
    return {clock.metric: clock for clock in clocks}


def start(thing, calendar, targets=None, at=FRIDAY_4PM):
    targets = targets or {"response": 4 * HOURS, "resolution": 16 * HOURS}
    return by_metric(start_fixed_clocks(thing, calendar=calendar, priority=2, targets=targets, at=at, reason="Acme"))


def test_fixed_clocks_start_with_the_given_targets_on_the_given_calendar_and_no_policy(thing, calendar):
    clocks = start(thing, calendar)

    response, resolution = clocks["response"], clocks["resolution"]
    assert response.policy is None and response.calendar == calendar and response.priority == 2
    assert (response.state, response.target_seconds) == ("running", 4 * HOURS)
    # Friday 16–17 (1 h), then Monday from 09:00 (3 h).
    assert response.due_at == paris(2026, 7, 13, 12, 0)
    # Friday 1 h, Monday 8 h, Tuesday 7 h.
    assert resolution.due_at == paris(2026, 7, 14, 16, 0)
    # The default warning thresholds apply: 75% of 4 h is 3 h in, Monday 11:00.
    assert (response.warning_pct, response.warning_at) == (75, paris(2026, 7, 13, 11, 0))
    started = SLAClockEvent.objects.get(clock=response)
    assert started.kind == "started" and started.reason.startswith("Acme: ")
    assert started.data["calendar"] == calendar.pk and started.data["target_seconds"] == 4 * HOURS


def test_a_metric_without_a_target_or_with_a_clock_already_is_left_out(thing, calendar):
    assert list(start(thing, calendar, {"response": 3600, "resolution": None})) == ["response"]
    assert start(thing, calendar, {"response": 7200, "resolution": 7200}).keys() == {"resolution"}

    assert SLAClock.objects.get(object_id=thing.pk, metric="response").target_seconds == 3600


def test_an_unknown_metric_or_a_naive_time_is_refused_and_starts_nothing(thing, calendar):
    with pytest.raises(ValueError, match="unknown metric"):
        start_fixed_clocks(thing, calendar=calendar, priority=2, targets={"response": 60, "uptime": 60})
    with pytest.raises(ValueError, match="naive"):
        start_fixed_clocks(
            thing, calendar=calendar, priority=2, targets={"response": 60}, at=FRIDAY_4PM.replace(tzinfo=None)
        )

    assert not SLAClock.objects.filter(object_id=thing.pk).exists()


def test_a_clock_stopped_within_its_target_is_met_with_the_business_time_counted(thing, calendar):
    start(thing, calendar)

    clock = stop_clock(thing, "response", reason="Acme responded", at=paris(2026, 7, 13, 11, 30))

    assert clock.state == "met" and clock.stopped_at == paris(2026, 7, 13, 11, 30)
    assert clock.elapsed_seconds == pytest.approx(3.5 * HOURS)  # the weekend doesn't count
    met = SLAClockEvent.objects.get(clock=clock, kind="met")
    assert met.reason.startswith("Acme responded: met")
    assert SLAClock.objects.get(object_id=thing.pk, metric="resolution").state == "running"


def test_a_clock_stopped_after_its_target_is_breached(thing, calendar):
    start(thing, calendar)

    clock = stop_clock(thing, "response", reason="Acme responded", at=paris(2026, 7, 13, 12, 30))

    assert clock.state == "breached"
    stopped = SLAClockEvent.objects.get(clock=clock, kind="stopped")
    assert stopped.data["outcome"] == "breached" and "after the target" in stopped.reason


def test_stopping_a_missing_or_stopped_clock_changes_nothing(thing, calendar):
    assert stop_clock(thing, "response", reason="nothing to stop") is None
    start(thing, calendar)
    first = stop_clock(thing, "response", reason="Acme responded", at=paris(2026, 7, 13, 10, 0))

    again = stop_clock(thing, "response", reason="again", at=paris(2026, 7, 13, 15, 0))

    assert again.pk == first.pk and again.state == "met" and again.stopped_at == paris(2026, 7, 13, 10, 0)
    assert SLAClockEvent.objects.filter(clock=first).count() == 2  # started, met


def test_canceling_cancels_the_open_clocks_and_leaves_the_stopped_ones(thing, calendar):
    start(thing, calendar)
    stop_clock(thing, "response", reason="Acme responded", at=paris(2026, 7, 13, 10, 0))

    canceled = cancel_clocks(thing, at=paris(2026, 7, 13, 11, 0))

    assert [clock.metric for clock in canceled] == ["resolution"]
    states = dict(SLAClock.objects.filter(object_id=thing.pk).values_list("metric", "state"))
    assert states == {"response": "met", "resolution": "canceled"}
    resolution = SLAClock.objects.get(object_id=thing.pk, metric="resolution")
    assert resolution.elapsed_seconds == pytest.approx(3 * HOURS) and resolution.due_at is not None
    assert SLAClockEvent.objects.filter(clock=resolution, kind="canceled").exists()


def test_the_scan_warns_and_breaches_fixed_clocks_like_any_other(thing, calendar, django_capture_on_commit_callbacks):
    start(thing, calendar)
    warned, breached = [], []

    def on_warning(sender, clocks, **kwargs):
        warned.extend((clock.metric, clock.warned_pct) for clock in clocks)

    def on_breach(sender, clocks, **kwargs):
        breached.extend(clock.metric for clock in clocks)

    events.sla_warning.connect(on_warning)
    events.sla_breached.connect(on_breach)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            scan(now=paris(2026, 7, 13, 11, 5))
        with django_capture_on_commit_callbacks(execute=True):
            scan(now=paris(2026, 7, 13, 12, 5))
    finally:
        events.sla_warning.disconnect(on_warning)
        events.sla_breached.disconnect(on_breach)

    assert warned == [("response", 75)]
    assert breached == ["response"]
    response = SLAClock.objects.get(object_id=thing.pk, metric="response")
    assert response.state == "running" and response.breached_at == paris(2026, 7, 13, 12, 0)
    assert stop_clock(thing, "response", reason="late", at=paris(2026, 7, 13, 13, 0)).state == "breached"
