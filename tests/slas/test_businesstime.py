"""Business-time maths by example: office hours, weekends, holidays, and the days clocks change
in Paris and New York. (Properties over random calendars: test_businesstime_properties.py.)"""

import datetime as dt

import pytest

from slas.businesstime import Schedule, add_business_seconds, business_seconds, segments, wall_preimage
from tests.slas.conftest import NEW_YORK, PARIS, paris

HOUR = 3600
T = dt.time


def office(tz="Europe/Paris", holidays=(), start=8, end=18):
    return Schedule.from_rows(tz, [(day, T(start), T(end)) for day in range(5)], holidays)


def new_york(*args):
    return dt.datetime(*args, tzinfo=NEW_YORK)


def test_a_working_day_counts_its_hours_and_nothing_outside():
    schedule = office()
    assert business_seconds(schedule, paris(2026, 7, 6, 0, 0), paris(2026, 7, 7, 0, 0)) == 10 * HOUR
    assert business_seconds(schedule, paris(2026, 7, 6, 7, 0), paris(2026, 7, 6, 9, 30)) == 1.5 * HOUR
    assert business_seconds(schedule, paris(2026, 7, 6, 18, 0), paris(2026, 7, 7, 8, 0)) == 0


def test_a_weekend_counts_nothing_and_the_due_time_skips_it():
    schedule = office()
    friday_5pm = paris(2026, 7, 10, 17, 0)
    assert business_seconds(schedule, friday_5pm, paris(2026, 7, 13, 8, 0)) == HOUR
    assert add_business_seconds(schedule, friday_5pm, 2 * HOUR) == paris(2026, 7, 13, 9, 0)


def test_a_holiday_counts_nothing():
    schedule = office(holidays=[(dt.date(2026, 7, 14), "National Day")])
    monday_5pm = paris(2026, 7, 13, 17, 0)
    assert add_business_seconds(schedule, monday_5pm, 2 * HOUR) == paris(2026, 7, 15, 9, 0)
    assert business_seconds(schedule, paris(2026, 7, 14, 0, 0), paris(2026, 7, 15, 0, 0)) == 0


def test_the_due_time_is_the_first_instant_the_target_is_reached():
    schedule = office()
    # Exactly the working day: due at its end (18:00), not at the next morning's start.
    assert add_business_seconds(schedule, paris(2026, 7, 6, 8, 0), 10 * HOUR) == paris(2026, 7, 6, 18, 0)
    assert add_business_seconds(schedule, paris(2026, 7, 6, 12, 0), 0) == paris(2026, 7, 6, 12, 0)


def test_several_intervals_a_day_and_overlapping_rows_are_merged():
    schedule = Schedule.from_rows(
        "Europe/Paris", [(0, T(8), T(12)), (0, T(13), T(17)), (0, T(11), T(12, 30)), (0, T(16), T(0))]
    )
    assert schedule.hours[0] == ((8 * HOUR, 12.5 * HOUR), (13 * HOUR, 24 * HOUR))
    assert business_seconds(schedule, paris(2026, 7, 6), paris(2026, 7, 7)) == 15.5 * HOUR


# --- daylight saving time ----------------------------------------------------------------------


def test_paris_spring_forward_day_is_23_hours_long_on_a_round_the_clock_calendar():
    every_hour = Schedule.from_rows("Europe/Paris", [(day, T(0), T(0)) for day in range(7)])
    assert business_seconds(every_hour, paris(2026, 3, 29), paris(2026, 3, 30)) == 23 * HOUR
    assert business_seconds(every_hour, paris(2026, 10, 25), paris(2026, 10, 26)) == 25 * HOUR


def test_24x7_counts_real_time_across_both_changes():
    always = Schedule("Europe/Paris", always_open=True)
    assert business_seconds(always, paris(2026, 3, 28, 12), paris(2026, 3, 29, 12)) == 23 * HOUR
    assert add_business_seconds(always, paris(2026, 10, 24, 12), 24 * HOUR) == paris(2026, 10, 25, 11)


def test_office_hours_keep_their_wall_clock_times_across_the_change():
    schedule = office()
    # The Monday after clocks go forward: still 08:00–18:00 local, now UTC+2.
    friday = paris(2026, 3, 27, 17, 0)
    due = add_business_seconds(schedule, friday, 2 * HOUR)
    assert due == paris(2026, 3, 30, 9, 0)
    assert due.astimezone(PARIS).utcoffset() == dt.timedelta(hours=2)
    assert business_seconds(schedule, paris(2026, 3, 27, 8), paris(2026, 3, 31, 8)) == 20 * HOUR


def test_new_york_changes_on_other_dates_than_paris():
    schedule = office(tz="America/New_York", start=9, end=17)
    friday = new_york(2026, 3, 6, 16, 0)  # NY springs forward on Sunday 8 March 2026
    assert add_business_seconds(schedule, friday, 2 * HOUR) == new_york(2026, 3, 9, 10, 0)
    always = Schedule("America/New_York", always_open=True)
    assert business_seconds(always, new_york(2026, 3, 8, 0), new_york(2026, 3, 9, 0)) == 23 * HOUR
    assert business_seconds(always, new_york(2026, 11, 1, 0), new_york(2026, 11, 2, 0)) == 25 * HOUR


def test_hours_inside_the_skipped_hour_start_when_the_clock_reaches_them():
    # Sunday 29 March 2026 in Paris: 02:00 jumps to 03:00.
    schedule = Schedule.from_rows("Europe/Paris", [(6, T(2, 30), T(4, 0))])
    assert business_seconds(schedule, paris(2026, 3, 28), paris(2026, 3, 30)) == HOUR
    only_the_gap = Schedule.from_rows("Europe/Paris", [(6, T(2, 0), T(3, 0))])
    assert business_seconds(only_the_gap, paris(2026, 3, 28), paris(2026, 3, 30)) == 0


def test_hours_inside_the_repeated_hour_count_twice():
    # Sunday 25 October 2026 in Paris: 03:00 goes back to 02:00, so 02:00–02:30 is shown twice.
    schedule = Schedule.from_rows("Europe/Paris", [(6, T(2, 0), T(2, 30))])
    assert business_seconds(schedule, paris(2026, 10, 24), paris(2026, 10, 27)) == HOUR
    pieces = wall_preimage(PARIS, dt.datetime(2026, 10, 25, 2, 0), dt.datetime(2026, 10, 25, 2, 30))
    assert [(a.hour, a.minute, b.hour, b.minute) for a, b in pieces] == [(0, 0, 0, 30), (1, 0, 1, 30)]


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="naive"):
        business_seconds(office(), dt.datetime(2026, 7, 6, 8), paris(2026, 7, 6, 9))


def test_a_calendar_without_hours_never_falls_due():
    closed = Schedule("Europe/Paris")
    assert closed.never_open
    assert add_business_seconds(closed, paris(2026, 7, 6), HOUR) is None
    assert business_seconds(closed, paris(2026, 7, 6), paris(2026, 7, 20)) == 0


# --- segments ----------------------------------------------------------------------------------


def test_segments_say_what_counted_and_why_the_rest_did_not():
    schedule = office(holidays=[(dt.date(2026, 7, 14), "National Day")])
    pieces = segments(schedule, paris(2026, 7, 10, 17, 0), paris(2026, 7, 15, 9, 0))
    table = [(p.start.astimezone(PARIS).strftime("%a %H:%M"), p.kind, p.reason) for p in pieces]
    assert table == [
        ("Fri 17:00", "counted", "Working hours (Friday 08:00–18:00)"),
        ("Fri 18:00", "out_of_hours", "Outside working hours"),
        ("Sat 00:00", "weekend", "No working hours on Saturday, Sunday"),
        ("Mon 00:00", "out_of_hours", "Outside working hours"),
        ("Mon 08:00", "counted", "Working hours (Monday 08:00–18:00)"),
        ("Mon 18:00", "out_of_hours", "Outside working hours"),
        ("Tue 00:00", "holiday", "Holiday: National Day (14 Jul 2026)"),
        ("Wed 00:00", "out_of_hours", "Outside working hours"),
        ("Wed 08:00", "counted", "Working hours (Wednesday 08:00–18:00)"),
    ]
    assert sum(p.seconds for p in pieces if p.kind == "counted") == 12 * HOUR
    assert pieces[-1].end == paris(2026, 7, 15, 9, 0)


def test_segments_of_a_24x7_calendar_are_one_counted_stretch():
    always = Schedule("Europe/Paris", always_open=True)
    [piece] = segments(always, paris(2026, 3, 28), paris(2026, 3, 30))
    assert piece.kind == "counted" and piece.seconds == 47 * HOUR
