"""Read-side queries and figures of the SLA app that other apps and the templates use.

- ``schedule_for(calendar)``: the calendar as a ``businesstime.Schedule`` (cached per calendar
  version, so a page full of clocks builds it once);
- ``clock_prefetch()``: the ``Prefetch`` that loads an object's clocks with everything the
  serializer and the badge need, in three queries whatever the number of objects;
- ``clock_status(clock, now)``: a clock's live figures (elapsed, remaining, percent, tone).
"""

import datetime as dt
from collections import OrderedDict
from dataclasses import dataclass
from threading import Lock

from django.db.models import Prefetch
from django.utils import timezone

from slas.businesstime import Schedule, business_seconds
from slas.choices import ACTIVE_CLOCK_STATES, ClockState
from slas.models import BusinessCalendar, SLAClock

_CACHE_SIZE = 64
_schedules = OrderedDict()
_lock = Lock()


def _prefetched(calendar, name):
    cache = getattr(calendar, "_prefetched_objects_cache", {})
    return cache.get(name)


def schedule_for(calendar):
    """The ``Schedule`` of ``calendar``. Cached by the calendar's id and ``updated_at`` (every
    change to its hours or holidays goes through ``slas.services``, which touches the calendar);
    uses the calendar's prefetched ``hours`` and ``holidays`` when present, else two queries."""
    schedule = calendar.__dict__.get("_sla_schedule")
    if schedule is not None:
        return schedule
    key = (calendar.pk, calendar.updated_at, calendar.time_zone, calendar.always_open)
    with _lock:
        schedule = _schedules.get(key)
        if schedule is not None:
            _schedules.move_to_end(key)
    if schedule is None:
        hours = _prefetched(calendar, "hours")
        holidays = _prefetched(calendar, "holidays")
        if hours is None:
            hours = calendar.hours.all()
        if holidays is None:
            holidays = calendar.holidays.all()
        schedule = Schedule.from_rows(
            calendar.time_zone,
            [(h.weekday, h.start, h.end) for h in hours],
            [(h.date, h.name) for h in holidays],
            always_open=calendar.always_open,
            name=calendar.name,
        )
        if calendar.pk is not None and calendar.updated_at is not None:
            with _lock:
                _schedules[key] = schedule
                while len(_schedules) > _CACHE_SIZE:
                    _schedules.popitem(last=False)
    calendar.__dict__["_sla_schedule"] = schedule
    return schedule


def forget_schedules():
    """Empty the schedule cache (tests that edit calendar rows behind the services' back)."""
    with _lock:
        _schedules.clear()


def load_calendars(ids):
    """``{id: BusinessCalendar}`` with hours and holidays prefetched (three queries)."""
    return {c.pk: c for c in BusinessCalendar.objects.filter(pk__in=set(ids)).prefetch_related("hours", "holidays")}


def clock_queryset():
    """Clocks with their policy and calendar (and its hours and holidays) loaded."""
    return (
        SLAClock.objects.select_related("policy", "calendar")
        .prefetch_related("calendar__hours", "calendar__holidays")
        .order_by("metric", "id")
    )


def clock_prefetch(lookup="sla_clocks", to_attr=None):
    """``Prefetch("sla_clocks", …)`` for any model with ``sla_clocks = GenericRelation(SLAClock)``:
    the clocks, their policy and calendar in one query, the calendars' hours and holidays in two
    more — three queries for a page of 50 incidents or 500."""
    return Prefetch(lookup, queryset=clock_queryset(), to_attr=to_attr)


def clocks_of(obj):
    """The clocks of any object, response first, loaded as ``clock_prefetch`` loads them."""
    from django.contrib.contenttypes.models import ContentType

    return list(clock_queryset().filter(content_type=ContentType.objects.get_for_model(obj), object_id=obj.pk))


@dataclass(frozen=True)
class ClockStatus:
    """A clock's figures at one instant. ``remaining_seconds`` is business time (negative once the
    target has passed); ``tone`` is the Bootstrap colour of its badge."""

    clock: SLAClock
    now: dt.datetime
    elapsed_seconds: float
    remaining_seconds: float
    percent: float
    breached: bool
    warned: bool
    label: str
    tone: str

    @property
    def running(self):
        return self.clock.state == ClockState.RUNNING

    @property
    def active(self):
        return self.clock.state in ACTIVE_CLOCK_STATES

    @property
    def overdue_seconds(self):
        return max(0.0, -self.remaining_seconds)


def elapsed_at(clock, now):
    """Business seconds the clock has counted by ``now``."""
    elapsed = clock.elapsed_seconds
    if clock.state == ClockState.RUNNING and clock.running_since is not None and now > clock.running_since:
        elapsed += business_seconds(schedule_for(clock.calendar), clock.running_since, now)
    return elapsed


def clock_status(clock, now=None):
    now = (now or timezone.now()).astimezone(dt.UTC)
    elapsed = elapsed_at(clock, now)
    target = clock.target_seconds or 0
    remaining = target - elapsed
    percent = round(100.0 * elapsed / target, 1) if target else 0.0
    breached = (
        clock.breached_at is not None
        or clock.state == ClockState.BREACHED
        or (clock.state in ACTIVE_CLOCK_STATES and remaining < 0)
    )
    warned = clock.warned_pct > 0
    state = clock.state
    if state == ClockState.MET:
        label, tone = "Met", "success"
    elif state == ClockState.BREACHED:
        label, tone = "Breached", "danger"
    elif state == ClockState.CANCELED:
        label, tone = "Canceled", "secondary"
    elif breached:
        label, tone = ("Overdue, paused" if state == ClockState.PAUSED else "Overdue"), "danger"
    elif state == ClockState.PAUSED:
        label, tone = "Paused", "secondary"
    elif warned:
        label, tone = "At risk", "warning"
    else:
        label, tone = "On track", "primary"
    return ClockStatus(
        clock=clock,
        now=now,
        elapsed_seconds=elapsed,
        remaining_seconds=remaining,
        percent=percent,
        breached=breached,
        warned=warned,
        label=label,
        tone=tone,
    )
