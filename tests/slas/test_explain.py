"""The explainable SLA timeline: every counted, paused and closed stretch with its reason, adding up
to the target at the due time; and the badge and timeline templates the incident page includes."""

import pytest
from django.template.loader import render_to_string

from slas.explain import explain
from slas.selectors import clock_status, clocks_of
from slas.services import scan, sync_clocks
from tests.factories import IncidentFactory, sla_policy
from tests.slas.conftest import PARIS, paris, subject

pytestmark = pytest.mark.django_db

HOUR = 3600


@pytest.fixture
def incident():
    """P3 on office hours (09:00–17:00 Mon–Fri, Paris): response 1 h, resolution 16 h. Opened
    Friday 16:00, on hold Monday 10:00–11:00 (awaiting caller)."""
    sla_policy()
    incident = IncidentFactory()
    sync_clocks(incident, subject(), at=paris(2026, 7, 10, 16, 0))
    sync_clocks(
        incident, subject(state="on_hold", pause_reason="On hold: awaiting caller"), at=paris(2026, 7, 13, 10, 0)
    )
    sync_clocks(incident, subject(state="in_progress"), at=paris(2026, 7, 13, 11, 0))
    return incident


def clock(incident, metric):
    return next(c for c in clocks_of(incident) if c.metric == metric)


def rows(explanation):
    return [
        (
            s.start.astimezone(PARIS).strftime("%a %H:%M"),
            s.end.astimezone(PARIS).strftime("%a %H:%M"),
            s.kind,
            s.counted_seconds / HOUR,
            s.cumulative_seconds / HOUR,
            s.projected,
        )
        for s in explanation.segments
    ]


def test_the_timeline_shows_every_stretch_and_adds_up_to_the_target_at_the_due_time(incident):
    resolution = clock(incident, "resolution")
    explanation = explain(resolution, now=paris(2026, 7, 13, 12, 0))
    assert rows(explanation) == [
        ("Fri 16:00", "Fri 17:00", "counted", 1, 1, False),
        ("Fri 17:00", "Sat 00:00", "out_of_hours", 0, 1, False),
        ("Sat 00:00", "Mon 00:00", "weekend", 0, 1, False),
        ("Mon 00:00", "Mon 09:00", "out_of_hours", 0, 1, False),
        ("Mon 09:00", "Mon 10:00", "counted", 1, 2, False),
        ("Mon 10:00", "Mon 11:00", "paused", 0, 2, False),
        ("Mon 11:00", "Mon 12:00", "counted", 1, 3, False),
        ("Mon 12:00", "Mon 17:00", "counted", 5, 8, True),
        ("Mon 17:00", "Tue 09:00", "out_of_hours", 0, 8, True),
        ("Tue 09:00", "Tue 17:00", "counted", 8, 16, True),
    ]
    paused = explanation.segments[5]
    assert paused.reason == "On hold: awaiting caller"
    assert explanation.segments[2].reason == "No working hours on Saturday, Sunday"
    assert explanation.counted_seconds == 3 * HOUR
    assert explanation.counted_seconds == pytest.approx(
        clock_status(resolution, paris(2026, 7, 13, 12, 0)).elapsed_seconds
    )
    assert explanation.counted_seconds + explanation.projected_seconds == explanation.target_seconds == 16 * HOUR
    assert explanation.due_at == explanation.segments[-1].end == paris(2026, 7, 14, 17, 0)
    assert explanation.remaining_seconds == 13 * HOUR
    assert [e.kind for e in explanation.events] == ["started", "paused", "resumed"]


def test_time_counted_after_the_target_is_marked_as_such(incident):
    response = clock(incident, "response")  # 1 h from Friday 16:00: passed Friday 17:00
    assert response.breached_at == paris(2026, 7, 10, 17, 0)
    explanation = explain(response, now=paris(2026, 7, 13, 12, 0))
    over = [s for s in explanation.segments if s.over_target]
    assert [(s.start.astimezone(PARIS).strftime("%a %H:%M"), s.counted_seconds / HOUR) for s in over] == [
        ("Mon 09:00", 1),
        ("Mon 11:00", 1),
    ]
    assert all(s.reason.endswith("after the target") for s in over)
    assert not any(s.projected for s in explanation.segments)
    assert explanation.remaining_seconds == -2 * HOUR


def test_a_stopped_then_reopened_clock_shows_the_time_it_was_stopped(incident):
    sync_clocks(incident, subject(state="resolved", responded=True, done=True), at=paris(2026, 7, 13, 14, 0))
    sync_clocks(incident, subject(state="in_progress", responded=True), at=paris(2026, 7, 13, 15, 0))
    explanation = explain(clock(incident, "resolution"), now=paris(2026, 7, 13, 16, 0))
    stopped = [s for s in explanation.segments if s.kind == "paused" and s.reason == "Stopped until reopened"]
    assert [(s.start.astimezone(PARIS).hour, s.end.astimezone(PARIS).hour) for s in stopped] == [(14, 15)]
    assert explanation.counted_seconds == 6 * HOUR


def test_a_clock_that_changed_calendar_explains_each_stretch_on_its_own_calendar(incident):
    from tests.factories import business_calendar

    always = business_calendar(name="24 × 7", days=())
    always.always_open = True
    always.save()
    sla_policy(name="Critical", calendar=always, priorities=[1], order=1, response={1: 30}, resolution={1: 600})
    sync_clocks(incident, subject(priority=1), at=paris(2026, 7, 13, 16, 0))
    resolution = clock(incident, "resolution")
    assert resolution.calendar == always
    explanation = explain(resolution, now=paris(2026, 7, 13, 18, 0))
    later = [s for s in explanation.segments if s.start >= paris(2026, 7, 13, 16, 0)]
    assert {(s.kind, s.reason) for s in later} == {("counted", "24 × 7: every hour counts")}
    # 7 h on office hours (Fri 16–17, Mon 09–10 and 11–16), then round the clock from 16:00.
    assert explanation.counted_seconds == 7 * HOUR + 2 * HOUR
    assert explanation.due_at == explanation.segments[-1].end == paris(2026, 7, 13, 19, 0)


def test_a_paused_clock_shows_its_pause_until_now_and_no_due_time(incident):
    sync_clocks(incident, subject(state="on_hold", pause_reason="On hold: awaiting vendor"), at=paris(2026, 7, 13, 12))
    explanation = explain(clock(incident, "resolution"), now=paris(2026, 7, 13, 15, 0))
    last = explanation.segments[-1]
    assert (last.kind, last.reason, last.end) == ("paused", "On hold: awaiting vendor", paris(2026, 7, 13, 15, 0))
    assert explanation.due_at is None


# --- templates -------------------------------------------------------------------------------


def test_the_timeline_template_renders_a_table_a_person_can_check(incident):
    resolution = clock(incident, "resolution")
    html = render_to_string("slas/_clock_timeline.html", {"explanation": explain(resolution, paris(2026, 7, 13, 12))})
    assert 'id="sla-timeline-resolution"' in html
    assert html.count('class="sla-segment ') == 10
    assert "On hold: awaiting caller" in html
    assert "16 h of business time" in html
    assert "Tue 14 Jul 2026 17:00 CEST" in html
    assert "Mon 13 Jul 12:00" in html and "(to come)" in html
    assert "Europe/Paris" in html


@pytest.mark.parametrize(
    ("step", "label", "tone"),
    [
        ("running", "On track", "primary"),
        ("warned", "At risk", "warning"),
        ("overdue", "Overdue", "danger"),
        ("paused", "Paused", "secondary"),
        ("met", "Met", "success"),
        ("breached", "Breached", "danger"),
        ("canceled", "Canceled", "secondary"),
    ],
)
def test_the_badge_shows_the_state_and_its_colour(step, label, tone, django_capture_on_commit_callbacks):
    sla_policy()
    incident = IncidentFactory()
    monday = paris(2026, 7, 6, 9, 0)
    sync_clocks(incident, subject(), at=monday)
    if step == "warned":
        scan(now=paris(2026, 7, 6, 9, 50))
    elif step == "overdue":
        scan(now=paris(2026, 7, 6, 10, 30))
    elif step == "paused":
        sync_clocks(incident, subject(state="on_hold"), at=paris(2026, 7, 6, 9, 30))
    elif step == "met":
        sync_clocks(incident, subject(state="in_progress", responded=True), at=paris(2026, 7, 6, 9, 30))
    elif step == "breached":
        sync_clocks(incident, subject(state="in_progress", responded=True), at=paris(2026, 7, 6, 10, 30))
    elif step == "canceled":
        sync_clocks(incident, subject(state="canceled", canceled=True), at=paris(2026, 7, 6, 9, 30))
    response = clock(incident, "response")
    html = render_to_string("slas/_badge.html", {"clock": response, "sla_now": paris(2026, 7, 6, 9, 50)})
    assert f'data-sla-label="{label}"' in html
    assert f"text-bg-{tone}" in html
    assert html.startswith('<span class="badge sla-badge') and f"Response: {label}" in html


def test_the_timeline_of_a_stopped_clock_says_when_it_stopped_and_how(incident):
    sync_clocks(incident, subject(state="resolved", responded=True, done=True), at=paris(2026, 7, 13, 14, 0))
    response, resolution = clock(incident, "response"), clock(incident, "resolution")
    html = render_to_string("slas/_clock_timeline.html", {"explanation": explain(resolution, paris(2026, 7, 14))})
    assert "Met, Mon 13 Jul 2026 14:00 CEST" in html
    assert "Mon 09:00–17:00" in html and "Sat closed" in html
    html = render_to_string("slas/_clock_timeline.html", {"explanation": explain(response, paris(2026, 7, 14))})
    assert "Breached, Mon 13 Jul 2026 14:00 CEST (the target passed Fri 10 Jul 2026 17:00 CEST)" in html
