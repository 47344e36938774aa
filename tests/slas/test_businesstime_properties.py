"""Business-time maths as properties over random calendars, holidays and instants around the DST
changes of Paris and New York (hypothesis):

- the counted time equals a brute-force count of the quarter hours whose wall-clock time falls in
  working hours on a non-holiday date (the definition, checked independently);
- counting is additive and never more than the real time;
- the due time is the first instant at which the target is reached, and moves monotonically with
  the target and with a later start (a later resume);
- pausing never shortens the business time to come nor brings the due time earlier; a paused clock
  never counts more than one that ran throughout;
- segments cover the span without gaps and their counted pieces add up to the counted time.
"""

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from slas.businesstime import COUNTED, HOLIDAY, WEEKEND, Schedule, add_business_seconds, business_seconds, segments

UTC = dt.UTC
QUARTER = dt.timedelta(minutes=15)
ZONES = ["Europe/Paris", "America/New_York"]
# Windows of a few weeks around each change of 2026 (Paris: 29 Mar, 25 Oct; New York: 8 Mar, 1 Nov).
WINDOWS = [
    (dt.datetime(2026, 3, 1, tzinfo=UTC), dt.datetime(2026, 4, 10, tzinfo=UTC)),
    (dt.datetime(2026, 10, 15, tzinfo=UTC), dt.datetime(2026, 11, 15, tzinfo=UTC)),
]

quarters = st.integers(min_value=0, max_value=96)  # a wall time in quarter hours, 96 = 24:00


@st.composite
def day_hours(draw):
    """0–2 intervals of one weekday, on quarter hours."""
    intervals = []
    for _ in range(draw(st.integers(0, 2))):
        a, b = sorted(draw(st.lists(quarters, min_size=2, max_size=2, unique=True)))
        intervals.append((a * 900, b * 900))
    return tuple(intervals)


@st.composite
def schedules(draw, zones=ZONES):
    zone = draw(st.sampled_from(zones))
    hours = tuple(draw(day_hours()) for _ in range(7))
    holiday_dates = draw(
        st.lists(st.dates(min_value=dt.date(2026, 3, 1), max_value=dt.date(2026, 11, 20)), max_size=8, unique=True)
    )
    always_open = draw(st.booleans()) and draw(st.booleans())  # a quarter of the calendars
    return Schedule(zone, hours=hours, holidays=dict.fromkeys(holiday_dates, "Holiday"), always_open=always_open)


@st.composite
def instants(draw, grid=True):
    lo, hi = draw(st.sampled_from(WINDOWS))
    steps = int((hi - lo) / QUARTER)
    instant = lo + draw(st.integers(0, steps)) * QUARTER
    if not grid:
        instant += dt.timedelta(seconds=draw(st.integers(0, 899)))
    return instant


def spans(grid=True):
    return st.tuples(instants(grid), st.integers(0, 14 * 96)).map(lambda t: (t[0], t[0] + t[1] * QUARTER))


def brute_force(schedule, start, end):
    """Seconds between ``start`` and ``end`` (on the quarter-hour grid) during which the calendar
    counts, by looking at the wall clock every quarter of an hour."""
    tz = ZoneInfo(schedule.time_zone)
    total, instant = 0, start
    while instant < end:
        if schedule.always_open:
            total += 900
        else:
            local = instant.astimezone(tz)
            seconds = local.hour * 3600 + local.minute * 60
            if local.date() not in schedule.holidays and any(
                a <= seconds < b for a, b in schedule.hours[local.weekday()]
            ):
                total += 900
        instant += QUARTER
    return total


COMMON = settings(max_examples=150, deadline=None)


@COMMON
@given(schedules(), spans())
def test_counted_time_is_the_quarter_hours_the_wall_clock_shows_working_hours(schedule, span):
    start, end = span
    assert business_seconds(schedule, start, end) == brute_force(schedule, start, end)


@COMMON
@given(schedules(), instants(grid=False), instants(grid=False), instants(grid=False))
def test_counting_is_additive_and_never_more_than_real_time(schedule, a, b, c):
    a, b, c = sorted([a, b, c])
    ab, bc, ac = business_seconds(schedule, a, b), business_seconds(schedule, b, c), business_seconds(schedule, a, c)
    assert ab + bc == pytest.approx(ac, abs=1e-6)
    assert 0 <= ac <= (c - a).total_seconds()
    if schedule.always_open:
        assert ac == (c - a).total_seconds()


@COMMON
@given(schedules(), instants(grid=False), st.integers(0, 20 * 24 * 3600))
def test_the_due_time_is_the_first_instant_the_target_is_reached(schedule, start, seconds):
    due = add_business_seconds(schedule, start, seconds)
    if due is None:
        assert schedule.never_open or not schedule.always_open
        return
    assert due >= start
    assert business_seconds(schedule, start, due) == pytest.approx(seconds, abs=1e-3)
    if seconds > 0:
        assert business_seconds(schedule, start, due - dt.timedelta(milliseconds=1)) < seconds


@COMMON
@given(schedules(), instants(grid=False), st.integers(0, 10 * 24 * 3600), st.integers(0, 10 * 24 * 3600))
def test_a_longer_target_never_falls_due_earlier(schedule, start, s1, s2):
    small, large = sorted([s1, s2])
    due_small, due_large = add_business_seconds(schedule, start, small), add_business_seconds(schedule, start, large)
    assume(due_large is not None)
    assert due_small is not None and due_small <= due_large


@COMMON
@given(schedules(), instants(grid=False), instants(grid=False), st.integers(0, 10 * 24 * 3600))
def test_a_later_start_or_resume_never_falls_due_earlier(schedule, a, b, seconds):
    early, late = sorted([a, b])
    due_early, due_late = add_business_seconds(schedule, early, seconds), add_business_seconds(schedule, late, seconds)
    assume(due_late is not None)
    assert due_early is not None and due_early <= due_late


@st.composite
def pauses(draw):
    """A start, a target, and pause intervals after the start, on a random calendar."""
    schedule = draw(schedules())
    start = draw(instants(grid=False))
    cuts = sorted(draw(st.lists(st.integers(1, 10 * 96), min_size=0, max_size=6, unique=True)))
    if len(cuts) % 2:
        cuts = cuts[:-1]
    intervals = [(start + a * QUARTER, start + b * QUARTER) for a, b in zip(cuts[::2], cuts[1::2], strict=True)]
    target = draw(st.integers(1, 5 * 24 * 3600))
    return schedule, start, intervals, target


def run_with_pauses(schedule, start, intervals, target):
    """What the clock does: count until each pause, then count on from the resume. Returns the
    business time counted by the last resume and the due time from there."""
    elapsed, since = 0.0, start
    for pause_at, resume_at in intervals:
        elapsed += business_seconds(schedule, since, pause_at)
        since = resume_at
    remaining = target - elapsed
    due = add_business_seconds(schedule, since, remaining) if remaining > 0 else since
    return elapsed, since, due


@COMMON
@given(pauses())
def test_pausing_never_brings_the_due_time_earlier_nor_counts_more(case):
    schedule, start, intervals, target = case
    elapsed, resumed_at, due = run_with_pauses(schedule, start, intervals, target)
    straight_due = add_business_seconds(schedule, start, target)
    # Never more counted than running throughout until the last resume.
    assert elapsed <= business_seconds(schedule, start, resumed_at) + 1e-6
    if straight_due is None:
        return
    if elapsed < target:
        assume(due is not None)
        assert due >= straight_due
    # Counted time including the pauses' own counted time is the whole span's counted time.
    paused = sum(business_seconds(schedule, a, b) for a, b in intervals)
    assert elapsed + paused == pytest.approx(business_seconds(schedule, start, resumed_at), abs=1e-6)


@COMMON
@given(schedules(), spans(grid=False))
def test_segments_cover_the_span_and_their_counted_pieces_add_up(schedule, span):
    start, end = span
    pieces = segments(schedule, start, end)
    if end <= start:
        assert pieces == []
        return
    assert pieces[0].start == start and pieces[-1].end == end
    assert all(a.end == b.start for a, b in itertools.pairwise(pieces))
    assert all(p.end > p.start for p in pieces)
    counted = sum(p.seconds for p in pieces if p.kind == COUNTED)
    assert counted == pytest.approx(business_seconds(schedule, start, end), abs=1e-6)
    tz = ZoneInfo(schedule.time_zone)
    for piece in pieces:
        day = piece.start.astimezone(tz).date()
        if piece.kind == WEEKEND:
            assert not schedule.hours[day.weekday()]
        if piece.kind == HOLIDAY:
            assert day in schedule.holidays


# --- through the services: a clock paused and resumed at random -------------------------------


@pytest.fixture
def office_policy(db):
    from tests.factories import business_calendar, sla_policy

    return sla_policy(calendar=business_calendar(time_zone="America/New_York"))


@pytest.mark.django_db
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.integers(1, 3 * 96), min_size=1, max_size=6))
def test_a_clock_paused_and_resumed_counts_exactly_its_running_time(office_policy, steps):
    from slas.businesstime import business_seconds as counted
    from slas.selectors import clock_status, clocks_of, schedule_for
    from slas.services import sync_clocks
    from tests.factories import IncidentFactory
    from tests.slas.conftest import subject

    start = dt.datetime(2026, 3, 6, 14, 0, tzinfo=ZoneInfo("America/New_York"))  # the Friday before NY's change
    paused, straight = IncidentFactory(), IncidentFactory()
    sync_clocks(paused, subject(), at=start)
    sync_clocks(straight, subject(), at=start)
    at, running, since, expected = start, True, start, 0.0
    for step in steps:
        at += step * QUARTER
        state = "on_hold" if running else "in_progress"
        sync_clocks(paused, subject(state=state), at=at)
        if running:
            expected += counted(schedule_for(office_policy.calendar), since, at)
        else:
            since = at
        running = not running
    end = at + QUARTER
    if running:
        expected += counted(schedule_for(office_policy.calendar), since, end)
    [paused_resolution] = [c for c in clocks_of(paused) if c.metric == "resolution"]
    [straight_resolution] = [c for c in clocks_of(straight) if c.metric == "resolution"]
    paused_status = clock_status(paused_resolution, end)
    straight_status = clock_status(straight_resolution, end)
    assert paused_status.elapsed_seconds == pytest.approx(expected, abs=1e-3)
    assert paused_status.elapsed_seconds <= straight_status.elapsed_seconds + 1e-3
    if paused_resolution.state == "running" and paused_resolution.breached_at is None:
        assert paused_resolution.due_at >= straight_resolution.due_at
