"""The SLA configuration: business calendars with their hours and holidays (and the public-holiday
pre-fill), and policies with their targets. Views, the API, the admin and the demo call these."""

import itertools

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from slas.models import BusinessCalendar, Holiday, SLATarget, WorkingHours
from slas.selectors import schedule_for
from slas.services.clocks import replan_clocks

# --- calendars ---------------------------------------------------------------------------------


def _stored_schedule(calendar):
    """The schedule of ``calendar`` as the database has it (before a change), or None if new."""
    if calendar.pk is None:
        return None
    stored = BusinessCalendar.objects.filter(pk=calendar.pk).prefetch_related("hours", "holidays").first()
    return schedule_for(stored) if stored is not None else None


def _same_schedule(a, b):
    return (
        a.time_zone == b.time_zone
        and a.always_open == b.always_open
        and a.hours == b.hours
        and set(a.holidays) == set(b.holidays)
    )


def _touch(calendar, before=None):
    """Give the calendar a new ``updated_at`` (its ETag and the schedule cache key) after a change
    to its hours or holidays, without an audit row of its own (the rows that changed have theirs);
    then, if what counts changed (``before``: the schedule before the change), replan the clocks
    running on it."""
    calendar.updated_at = timezone.now()
    BusinessCalendar.objects.filter(pk=calendar.pk).update(updated_at=calendar.updated_at)
    calendar.__dict__.pop("_sla_schedule", None)
    if hasattr(calendar, "_prefetched_objects_cache"):
        calendar._prefetched_objects_cache.pop("hours", None)
        calendar._prefetched_objects_cache.pop("holidays", None)
    if before is not None and not _same_schedule(before, schedule_for(calendar)):
        replan_clocks(calendar, before)


def _check_overlaps(rows):
    """``rows``: unsaved or saved ``WorkingHours`` of one calendar. Refuses two intervals of the
    same weekday that overlap."""
    by_day = {}
    for row in rows:
        end = row.end.hour * 60 + row.end.minute or 24 * 60
        by_day.setdefault(row.weekday, []).append((row.start.hour * 60 + row.start.minute, end, row))
    problems = []
    for intervals in by_day.values():
        intervals.sort(key=lambda item: item[:2])
        for (_s1, e1, first), (s2, _e2, second) in itertools.pairwise(intervals):
            if s2 < e1:
                problems.append(
                    f"{first.get_weekday_display()}: {first.start:%H:%M}–{first.end:%H:%M} overlaps "
                    f"{second.start:%H:%M}–{second.end:%H:%M}."
                )
    if problems:
        raise ValidationError({"hours": problems})


@transaction.atomic
def save_calendar(calendar, hours=None, holidays=None):
    """Validate and save a calendar. ``hours`` (``WorkingHours`` or ``(weekday, start, end)``),
    if given, become its working hours; ``holidays`` (``Holiday`` or ``(date, name)``), if given,
    its holidays. Rows that stay the same are kept (and their audit trail with them). Clocks
    running on the calendar are replanned when what it counts changed."""
    calendar.full_clean()
    before = _stored_schedule(calendar)
    calendar.save()
    if hours is not None:
        rows = [h if isinstance(h, WorkingHours) else WorkingHours(weekday=h[0], start=h[1], end=h[2]) for h in hours]
        errors = {}
        for position, row in enumerate(rows):
            row.calendar = calendar
            try:
                row.full_clean(exclude=["calendar"])
            except ValidationError as exc:
                errors[f"hours[{position}]"] = exc.messages
        if errors:
            raise ValidationError(errors)
        _check_overlaps(rows)
        stored = list(WorkingHours.objects.filter(calendar=calendar))
        existing = {(h.weekday, h.start, h.end): h for h in stored}
        ids = {h.pk for h in stored}
        keep = set()
        for row in rows:
            key = (row.weekday, row.start, row.end)
            if key in existing and existing[key].pk not in keep:
                keep.add(existing[key].pk)  # unchanged: left as it is
                continue
            if row.pk not in ids or row.pk in keep:
                row.pk, row._state.adding = None, True  # a new interval
            row.save()  # new, or an existing row edited in place
            keep.add(row.pk)
        for row in stored:
            if row.pk not in keep:
                row.delete()
    if holidays is not None:
        wanted = {}
        for item in holidays:
            date, name = (item.date, item.name) if isinstance(item, Holiday) else item
            if date in wanted:
                raise ValidationError({"holidays": f"{date:%Y-%m-%d} appears more than once."})
            wanted[date] = (name or "").strip()
            if not wanted[date]:
                raise ValidationError({"holidays": f"{date:%Y-%m-%d} needs a name."})
        existing = {h.date: h for h in Holiday.objects.filter(calendar=calendar)}
        for date, holiday in existing.items():
            if date not in wanted:
                holiday.delete()
        for date, name in wanted.items():
            holiday = existing.get(date)
            if holiday is None:
                holiday = Holiday(calendar=calendar, date=date, name=name)
            elif holiday.name == name:
                continue
            holiday.name = name
            holiday.full_clean()
            holiday.save()
    _touch(calendar, before)
    return calendar


@transaction.atomic
def add_holiday(calendar, date, name):
    """Add one holiday (400 when the calendar already has one on that date)."""
    holiday = Holiday(calendar=calendar, date=date, name=(name or "").strip())
    holiday.full_clean()
    before = _stored_schedule(calendar)
    holiday.save()
    _touch(calendar, before)
    return holiday


@transaction.atomic
def delete_holiday(holiday):
    calendar = holiday.calendar
    before = _stored_schedule(calendar)
    holiday.delete()
    _touch(calendar, before)


@transaction.atomic
def prefill_holidays(calendar, country, year, subdivision=""):
    """Add the public holidays of ``country`` (ISO code, e.g. ``FR``), optionally of one
    ``subdivision`` (e.g. a US state), for ``year``, from the ``holidays`` package. Dates the
    calendar already has are left as they are. Returns ``(created holidays, skipped count)``."""
    from slas.public_holidays import public_holidays

    found = public_holidays(country, year, subdivision)
    existing = set(Holiday.objects.filter(calendar=calendar, date__year=year).values_list("date", flat=True))
    before = _stored_schedule(calendar)
    created = []
    for date, name in found:
        if date in existing:
            continue
        holiday = Holiday(calendar=calendar, date=date, name=name[:200])
        holiday.save()
        created.append(holiday)
    if created:
        _touch(calendar, before)
    return created, len(found) - len(created)


@transaction.atomic
def delete_calendar(calendar):
    """Delete a calendar; one that policies or clocks use is protected (``ProtectedError``)."""
    calendar.delete()


# --- policies ----------------------------------------------------------------------------------


@transaction.atomic
def save_policy(policy, targets=None, teams=None, ci_classes=None, business_services=None):
    """Validate and save a policy. ``targets`` (``SLATarget`` or ``(metric, priority, minutes)``),
    if given, replace its targets; ``teams``, ``ci_classes`` and ``business_services``, if given,
    replace those criteria. Clocks already running keep the target they started with."""
    policy.full_clean()
    if business_services is not None:
        not_services = [ci for ci in business_services if not ci.ci_class.is_business_service]
        if not_services:
            raise ValidationError(
                {"business_services": f"Not business services: {', '.join(str(ci) for ci in not_services)}."}
            )
    policy.save()
    if targets is not None:
        rows = [t if isinstance(t, SLATarget) else SLATarget(metric=t[0], priority=t[1], minutes=t[2]) for t in targets]
        seen = set()
        for row in rows:
            row.policy = policy
            key = (row.metric, row.priority)
            if key in seen:
                raise ValidationError({"targets": f"Two {row.metric} targets for P{row.priority}."})
            seen.add(key)
            row.full_clean(exclude=["policy"], validate_unique=False)
        existing = {(t.metric, t.priority): t for t in SLATarget.objects.filter(policy=policy)}
        for key, target in existing.items():
            if key not in seen:
                target.delete()
        for row in rows:
            current = existing.get((row.metric, row.priority))
            if current is None:
                row.pk = None
                row.save()
            elif current.minutes != row.minutes:
                current.minutes = row.minutes
                current.save()
    if teams is not None:
        policy.teams.set(teams)
    if ci_classes is not None:
        policy.ci_classes.set(ci_classes)
    if business_services is not None:
        policy.business_services.set(business_services)
    if hasattr(policy, "_prefetched_objects_cache"):
        policy._prefetched_objects_cache.clear()
    return policy


@transaction.atomic
def delete_policy(policy):
    """Delete a policy and its targets; its clocks keep running on their own figures."""
    policy.delete()
