"""The explainable SLA timeline: a clock's life cut into segments a person can check by hand.

``explain(clock, now)`` replays the clock's events (started, paused, resumed, retargeted,
reopened, stopped …) against the calendar that applied at each moment and returns every stretch
of time with its kind and the reason:

- ``counted`` — working time on the calendar while the clock ran ("Working hours (Monday
  08:00–18:00)"), split where the target passed;
- ``out_of_hours``, ``weekend``, ``holiday`` — the clock ran but the calendar was closed, and why;
- ``paused`` — the clock did not run (on hold with its reason, or stopped until reopened).

Segments after ``now`` (``projected=True``) show the working time still to come until the due
time, so that the counted seconds of all segments add up to the target exactly at ``due_at``.
``counted_seconds`` (up to ``now``) is the clock's elapsed business time.
"""

import datetime as dt
from dataclasses import dataclass, field

from django.utils import timezone

from slas import businesstime
from slas.businesstime import COUNTED, PAUSED, WEEKDAY_NAMES
from slas.choices import ClockEventKind, ClockState
from slas.selectors import clock_status, load_calendars, schedule_for

MAX_SEGMENTS = 2000
_TOLERANCE = 0.001


@dataclass(frozen=True)
class Segment:
    start: dt.datetime
    end: dt.datetime
    kind: str  # counted, paused, out_of_hours, holiday, weekend
    reason: str
    counted_seconds: float
    cumulative_seconds: float = 0.0  # business time counted from the start to the end of this segment
    projected: bool = False  # after "now": still to come
    over_target: bool = False  # counted after the target had passed

    @property
    def seconds(self):
        return (self.end - self.start).total_seconds()


@dataclass
class Explanation:
    clock: object
    now: dt.datetime
    segments: list = field(default_factory=list)
    counted_seconds: float = 0.0
    projected_seconds: float = 0.0
    target_seconds: int = 0
    due_at: dt.datetime | None = None
    events: list = field(default_factory=list)
    calendar: object = None
    time_zone: str = "UTC"
    truncated: bool = False
    status: object = None

    @property
    def remaining_seconds(self):
        return self.target_seconds - self.counted_seconds

    @property
    def weekly_hours(self):
        """``[(day, "08:00–18:00")]`` of the current calendar (``Mon``, ``Tue`` …)."""
        schedule = schedule_for(self.calendar)
        if schedule.always_open:
            return [("Every day", "24 hours")]
        return [(WEEKDAY_NAMES[day][:3], schedule.describe_hours(day)) for day in range(7)]

    @property
    def holidays(self):
        """The holidays of the current calendar that fall within the segments' span."""
        if not self.segments or schedule_for(self.calendar).always_open:
            return []
        schedule = schedule_for(self.calendar)
        first = schedule.local_date(self.segments[0].start)
        last = schedule.local_date(self.segments[-1].end)
        return sorted((date, name) for date, name in schedule.holidays.items() if first <= date <= last)


class _Builder:
    def __init__(self, clock, now, target):
        self.clock, self.now, self.target = clock, now, target
        self.segments, self.cumulative, self.truncated = [], 0.0, False

    def add(self, segment):
        if len(self.segments) >= MAX_SEGMENTS:
            self.truncated = True
            return
        self.segments.append(segment)

    def run(self, schedule, start, end, projected=False):
        """The stretch ``start``→``end`` during which the clock ran on ``schedule``."""
        for piece in businesstime.segments(schedule, start, end):
            if piece.kind != COUNTED:
                self.add(Segment(piece.start, piece.end, piece.kind, piece.reason, 0.0, self.cumulative, projected))
                continue
            seconds = piece.seconds
            before = self.cumulative
            if before < self.target - _TOLERANCE < before + seconds:
                # The target passes inside this piece: split it there.
                cut = piece.start + dt.timedelta(seconds=self.target - before)
                self.cumulative = float(self.target)
                counted = self.target - before
                self.add(Segment(piece.start, cut, COUNTED, piece.reason, counted, self.cumulative, projected))
                rest = (piece.end - cut).total_seconds()
                if rest > 0:
                    self.cumulative += rest
                    self.add(
                        Segment(
                            cut,
                            piece.end,
                            COUNTED,
                            f"{piece.reason}, after the target",
                            rest,
                            self.cumulative,
                            projected,
                            over_target=True,
                        )
                    )
                continue
            self.cumulative += seconds
            over = before >= self.target - _TOLERANCE
            reason = f"{piece.reason}, after the target" if over else piece.reason
            self.add(Segment(piece.start, piece.end, COUNTED, reason, seconds, self.cumulative, projected, over))

    def pause(self, start, end, reason):
        if end > start:
            self.add(Segment(start, end, PAUSED, reason, 0.0, self.cumulative))

    def anchor(self, data):
        """Take the business time the clock recorded at an event as the running total from there:
        the recorded figure is what counted (a calendar changed since counts the past anew)."""
        elapsed = data.get("elapsed_seconds")
        if isinstance(elapsed, (int, float)) and not isinstance(elapsed, bool):
            self.cumulative = float(elapsed)


def explain(clock, now=None):
    """The clock's timeline as of ``now`` (an ``Explanation``): segments, counted business time,
    target and due time."""
    now = (now or timezone.now()).astimezone(dt.UTC)
    events = list(clock.events.all())
    calendar_ids = {clock.calendar_id}
    for event in events:
        if isinstance(event.data, dict) and isinstance(event.data.get("calendar"), int):
            calendar_ids.add(event.data["calendar"])
    calendars = {clock.calendar_id: clock.calendar}
    if calendar_ids - {clock.calendar_id}:
        calendars.update(load_calendars(calendar_ids - {clock.calendar_id}))

    def schedule(calendar_id):
        calendar = calendars.get(calendar_id) or clock.calendar
        return schedule_for(calendar)

    builder = _Builder(clock, now, clock.target_seconds)
    running_from = paused_from = stopped_from = None
    pause_reason = ""
    current_calendar = clock.calendar_id
    for event in events:
        time = min(event.time, now)
        data = event.data if isinstance(event.data, dict) else {}
        kind = event.kind
        if kind == ClockEventKind.STARTED:
            current_calendar = data.get("calendar", current_calendar)
            builder.target = data.get("target_seconds", builder.target)
            running_from = time
        elif kind == ClockEventKind.PAUSED:
            if running_from is not None:
                builder.run(schedule(current_calendar), running_from, time)
            builder.anchor(data)
            running_from, paused_from, pause_reason = None, time, event.reason or "Paused"
        elif kind in (ClockEventKind.RESUMED, ClockEventKind.REOPENED):
            if paused_from is not None:
                builder.pause(paused_from, time, pause_reason)
            if stopped_from is not None:
                builder.pause(stopped_from, time, "Stopped until reopened")
            paused_from = stopped_from = None
            running_from = time
        elif kind == ClockEventKind.RETARGETED:
            if running_from is not None:
                builder.run(schedule(current_calendar), running_from, time)
                running_from = time
            builder.anchor(data)
            builder.target = data.get("to_target_seconds", builder.target)
            current_calendar = data.get("calendar", current_calendar)
        elif kind in (ClockEventKind.MET, ClockEventKind.STOPPED, ClockEventKind.CANCELED):
            if running_from is not None:
                builder.run(schedule(current_calendar), running_from, time)
            if paused_from is not None:
                builder.pause(paused_from, time, pause_reason)
            builder.anchor(data)
            running_from = paused_from = None
            stopped_from = time
    builder.target = clock.target_seconds
    if running_from is not None and clock.state == ClockState.RUNNING:
        builder.run(schedule(current_calendar), running_from, now)
    elif paused_from is not None and clock.state == ClockState.PAUSED:
        builder.pause(paused_from, now, pause_reason)
    past = builder.cumulative
    if (
        running_from is not None
        and clock.state == ClockState.RUNNING
        and clock.due_at is not None
        and clock.due_at > now
        and past < clock.target_seconds - _TOLERANCE
    ):
        builder.run(schedule(current_calendar), now, clock.due_at, projected=True)
    projected = sum(s.counted_seconds for s in builder.segments if s.projected)
    calendar = calendars.get(current_calendar) or clock.calendar
    return Explanation(
        clock=clock,
        now=now,
        segments=builder.segments,
        counted_seconds=past,
        projected_seconds=projected,
        target_seconds=clock.target_seconds,
        due_at=clock.due_at,
        events=events,
        calendar=calendar,
        time_zone=calendar.time_zone,
        truncated=builder.truncated,
        status=clock_status(clock, now),
    )
