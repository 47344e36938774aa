"""Business time: how much of a stretch of real time a business calendar counts, and when a given
amount of business time will have passed.

A ``Schedule`` is a calendar reduced to what the maths needs: a time zone, the working intervals
of each weekday (wall-clock times, merged), the holiday dates and the 24 × 7 flag. It is built
from a ``BusinessCalendar`` by ``schedule_for`` and shared (it never changes once built).

**What counts.** An instant counts when the calendar is 24 × 7, or when the wall clock of the
calendar's time zone shows a time inside a working interval of that local date, and the date is
not a holiday. Everything is measured in real (UTC) seconds, so:

- on the day clocks go forward (Europe/Paris, last Sunday of March) an interval 00:00–24:00
  counts 23 hours; a working interval that starts inside the skipped hour (02:30 → 03:00) starts
  when the wall clock reaches it (03:00 CEST);
- on the day clocks go back, 00:00–24:00 counts 25 hours, and an interval that contains the
  repeated hour counts it twice (the wall clock shows those times twice);
- 24 × 7 counts real time exactly, holidays and hours ignored.

``business_seconds(schedule, start, end)`` is additive (``a→b`` plus ``b→c`` is ``a→c``), never
more than the real time between ``start`` and ``end``, and ``add_business_seconds`` is its
inverse: the first instant at which ``seconds`` of business time have passed since ``start``
(``None`` when the calendar never opens again). ``segments`` cuts a stretch of time into counted,
out-of-hours, weekend and holiday pieces, with the reason of each (``slas.explain`` uses it).
"""

import datetime as dt
import itertools
from dataclasses import dataclass, field
from functools import lru_cache
from zoneinfo import ZoneInfo

UTC = dt.UTC
DAY = 86400
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# How far ahead ``add_business_seconds`` looks for working time before it gives up (a calendar
# whose every working day is a holiday for twenty years is as good as closed).
HORIZON_DAYS = 366 * 20
# Offsets are within UTC−12…UTC+14: a wall time of date d is shown by an instant within this
# distance of the same numbers read as UTC.
_OFFSET_REACH = dt.timedelta(hours=15)
_SAMPLE_STEP = dt.timedelta(hours=6)

COUNTED = "counted"
PAUSED = "paused"
OUT_OF_HOURS = "out_of_hours"
HOLIDAY = "holiday"
WEEKEND = "weekend"
SEGMENT_KINDS = (COUNTED, PAUSED, OUT_OF_HOURS, HOLIDAY, WEEKEND)


def _hhmm(seconds):
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def merge_intervals(intervals):
    """Sorted, non-overlapping, non-touching ``(start, end)`` pairs covering the same ground."""
    merged = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return tuple(merged)


@dataclass(frozen=True, eq=False)
class Schedule:
    """``hours[weekday]`` (0 = Monday) is a tuple of ``(start, end)`` seconds after local midnight
    (``end`` up to 86400); ``holidays`` maps dates to their names."""

    time_zone: str
    hours: tuple = ((),) * 7
    holidays: dict = field(default_factory=dict)
    always_open: bool = False
    name: str = ""

    def __post_init__(self):
        object.__setattr__(self, "tz", ZoneInfo(self.time_zone))
        object.__setattr__(self, "hours", tuple(merge_intervals(day) for day in self.hours))
        object.__setattr__(self, "_days", {})

    @classmethod
    def from_rows(cls, time_zone, hours=(), holidays=(), always_open=False, name=""):
        """From ``(weekday, start time, end time)`` rows (``end`` 00:00 = midnight at the end of
        the day) and ``(date, name)`` pairs."""
        by_day = [[] for _ in range(7)]
        for weekday, start, end in hours:
            start_s = start.hour * 3600 + start.minute * 60 + start.second
            end_s = end.hour * 3600 + end.minute * 60 + end.second
            by_day[weekday].append((start_s, end_s or DAY))
        return cls(
            time_zone=time_zone,
            hours=tuple(tuple(day) for day in by_day),
            holidays=dict(holidays),
            always_open=always_open,
            name=name,
        )

    @property
    def never_open(self):
        return not self.always_open and not any(self.hours)

    def describe_hours(self, weekday):
        return ", ".join(f"{_hhmm(s)}–{_hhmm(e)}" for s, e in self.hours[weekday]) or "closed"

    def day_intervals(self, date):
        """The working intervals of local ``date`` as sorted ``(start, end)`` UTC datetimes
        (none on a holiday or a day without hours)."""
        found = self._days.get(date)
        if found is None:
            found = ()
            if date not in self.holidays and self.hours[date.weekday()]:
                midnight = dt.datetime.combine(date, dt.time())
                pieces = []
                for start, end in self.hours[date.weekday()]:
                    pieces.extend(
                        wall_preimage(
                            self.tz, midnight + dt.timedelta(seconds=start), midnight + dt.timedelta(seconds=end)
                        )
                    )
                found = merge_intervals(pieces)
            if len(self._days) > 4096:
                self._days.clear()
            self._days[date] = found
        return found

    def local_date(self, instant):
        return instant.astimezone(self.tz).date()


# --- wall time ↔ real time ------------------------------------------------------------------


@lru_cache(maxsize=8192)
def _transitions(tz, lo, hi):
    """The instants in ``(lo, hi]`` where ``tz``'s UTC offset changes, found by sampling every six
    hours and bisecting to the second (zones change offset at whole seconds)."""
    cuts = []
    previous, before = lo, lo.astimezone(tz).utcoffset()
    probe = lo
    while probe < hi:
        probe = min(probe + _SAMPLE_STEP, hi)
        offset = probe.astimezone(tz).utcoffset()
        if offset != before:
            a, b = previous, probe  # offset(a) == before != offset(b)
            while (b - a) > dt.timedelta(seconds=1):
                mid = a + dt.timedelta(seconds=((b - a) // 2).total_seconds() // 1)
                if mid.astimezone(tz).utcoffset() == before:
                    a = mid
                else:
                    b = mid
            cuts.append(b)
        previous, before = probe, offset
    return tuple(cuts)


def wall_preimage(tz, start, end):
    """The real-time intervals (UTC) during which ``tz``'s wall clock shows a time in the naive
    interval ``[start, end)``: one interval, none (inside a skipped hour), or two (a repeated
    hour)."""
    if end <= start:
        return []
    lo = start.replace(tzinfo=UTC) - _OFFSET_REACH
    hi = end.replace(tzinfo=UTC) + _OFFSET_REACH
    bounds = [lo, *_transitions(tz, lo, hi), hi]
    found = []
    for piece_start, piece_end in itertools.pairwise(bounds):
        offset = piece_start.astimezone(tz).utcoffset()
        a = max(start.replace(tzinfo=UTC) - offset, piece_start)
        b = min(end.replace(tzinfo=UTC) - offset, piece_end)
        if b > a:
            found.append((a, b))
    return found


# --- the maths --------------------------------------------------------------------------------


def _require_aware(*instants):
    for instant in instants:
        if instant.tzinfo is None:
            raise ValueError(f"{instant!r} is a naive datetime: business time needs aware datetimes")


def _seconds(delta):
    return delta.total_seconds()


def business_seconds(schedule, start, end):
    """Business seconds between ``start`` and ``end`` (0 when ``end`` is not after ``start``)."""
    _require_aware(start, end)
    # In UTC: Python subtracts two datetimes of the same zone as wall times, ignoring DST.
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start or schedule.never_open:
        return 0.0
    if schedule.always_open:
        return _seconds(end - start)
    total = 0.0
    date = schedule.local_date(start) - dt.timedelta(days=1)
    last = schedule.local_date(end) + dt.timedelta(days=1)
    while date <= last:
        for a, b in schedule.day_intervals(date):
            lo, hi = max(a, start), min(b, end)
            if hi > lo:
                total += _seconds(hi - lo)
        date += dt.timedelta(days=1)
    return total


def add_business_seconds(schedule, start, seconds):
    """The first instant at which ``seconds`` of business time have passed since ``start``
    (``start`` itself for 0 or less); ``None`` when the calendar never opens again."""
    _require_aware(start)
    start = start.astimezone(UTC)
    if seconds <= 0:
        return start
    if schedule.always_open:
        return start + dt.timedelta(seconds=seconds)
    if schedule.never_open:
        return None
    remaining = float(seconds)
    date = schedule.local_date(start) - dt.timedelta(days=1)
    for _ in range(HORIZON_DAYS):
        for a, b in schedule.day_intervals(date):
            lo = max(a, start)
            if b <= lo:
                continue
            available = _seconds(b - lo)
            if remaining <= available:
                return lo + dt.timedelta(seconds=remaining)
            remaining -= available
        date += dt.timedelta(days=1)
    return None


@dataclass(frozen=True)
class Piece:
    """A stretch of time and how the calendar treats it."""

    start: dt.datetime
    end: dt.datetime
    kind: str  # counted, out_of_hours, holiday, weekend
    reason: str

    @property
    def seconds(self):
        return _seconds(self.end - self.start)


def segments(schedule, start, end):
    """``start``→``end`` cut into ``Piece``s: counted (working time) and the closed time between
    (out of hours, a weekend day — a weekday without hours — or a holiday), adjacent pieces of
    the same kind and reason merged. The counted pieces add up to ``business_seconds``."""
    _require_aware(start, end)
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        return []
    if schedule.always_open:
        return [Piece(start, end, COUNTED, "24 × 7: every hour counts")]
    if schedule.never_open:
        return [Piece(start, end, OUT_OF_HOURS, "The calendar has no working hours")]
    pieces = []
    date = schedule.local_date(start)
    cursor = start
    while cursor < end:
        next_midnight = _next_local_midnight(schedule, date)
        day_end = min(end, next_midnight)
        closed_kind, closed_reason = _closed_reason(schedule, date)
        for a, b in schedule.day_intervals(date):
            lo, hi = max(a, cursor), min(b, day_end)
            if hi <= lo:
                continue
            if lo > cursor:
                _append(pieces, Piece(cursor, lo, closed_kind, closed_reason))
            _append(pieces, Piece(lo, hi, COUNTED, f"Working hours ({_day_hours(schedule, date)})"))
            cursor = hi
        if day_end > cursor:
            _append(pieces, Piece(cursor, day_end, closed_kind, closed_reason))
        cursor = max(cursor, day_end)
        date += dt.timedelta(days=1)
    return pieces


def _day_hours(schedule, date):
    return f"{WEEKDAY_NAMES[date.weekday()]} {schedule.describe_hours(date.weekday())}"


def _closed_reason(schedule, date):
    if not schedule.hours[date.weekday()]:
        return WEEKEND, f"No working hours on {WEEKDAY_NAMES[date.weekday()]}"
    if date in schedule.holidays:
        name = schedule.holidays[date] or "holiday"
        return HOLIDAY, f"Holiday: {name} ({date:%d %b %Y})"
    return OUT_OF_HOURS, "Outside working hours"


def _next_local_midnight(schedule, date):
    """The first instant the wall clock shows the day after ``date`` (or later)."""
    following = dt.datetime.combine(date + dt.timedelta(days=1), dt.time())
    found = wall_preimage(schedule.tz, following, following + dt.timedelta(days=1))
    if found:
        return found[0][0]
    return following.replace(tzinfo=UTC) - dt.timedelta(hours=14)  # pragma: no cover - a day that never shows


def _append(pieces, piece):
    """Add ``piece``, merged into the previous one when it continues it with the same kind (closed
    time across midnight, a whole weekend: one row, its reasons joined)."""
    last = pieces[-1] if pieces else None
    if last is None or last.kind != piece.kind or last.end != piece.start or piece.kind == COUNTED:
        pieces.append(piece)
        return
    reason = last.reason
    if piece.reason != last.reason and not last.reason.endswith(piece.reason):
        if piece.kind == WEEKEND:
            reason = f"{last.reason}, {piece.reason.removeprefix('No working hours on ')}"
        else:
            reason = f"{last.reason}; {piece.reason}"
    pieces[-1] = Piece(last.start, piece.end, piece.kind, reason)
