"""Read-side queries of change management worth naming: the CIs under maintenance (monitoring
asks, issue 6) and what the change calendar shows."""

from typing import NamedTuple

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from changes.choices import ChangeState
from changes.models import BlackoutWindow, ChangeRequest

# The CIs of a change in this state are under maintenance: its affected CIs and their downstream
# dependents (the stored impacted CIs). Checks keep running; failures go against the change.
MAINTENANCE_STATE = ChangeState.IMPLEMENT


def _maintenance_links(ci_ids=None):
    """``(ci_id, change_id)`` of every affected or impacted CI of a change being implemented
    (restricted to ``ci_ids`` when given): one query, a UNION over the two link tables."""
    parts = []
    for name in ("affected_cis", "impacted_cis"):
        field = ChangeRequest._meta.get_field(name)
        through, this, other = field.remote_field.through, field.m2m_field_name(), field.m2m_reverse_field_name()
        links = through.objects.filter(**{f"{this}__state": MAINTENANCE_STATE})
        if ci_ids is not None:
            links = links.filter(**{f"{other}_id__in": ci_ids})
        parts.append(links.order_by().values_list(f"{other}_id", f"{this}_id"))
    return parts[0].union(parts[1], all=True)


def cis_under_maintenance():
    """The ids of the CIs under maintenance now: the affected and impacted CIs of every change in
    ``implement`` (one query)."""
    return {ci_id for ci_id, _change_id in _maintenance_links()}


def maintenance_changes(ci_ids):
    """``{ci_id: change_id}`` for those of ``ci_ids`` under maintenance: the change being
    implemented that covers each (the oldest one when several do). One query; none when
    ``ci_ids`` is empty."""
    ci_ids = [int(pk) for pk in ci_ids]
    if not ci_ids:
        return {}
    found = {}
    for ci_id, change_id in sorted(_maintenance_links(ci_ids), key=lambda row: row[1]):
        found.setdefault(ci_id, change_id)
    return found


class CalendarEntries(NamedTuple):
    changes: QuerySet  # ChangeRequest, by planned start
    blackouts: QuerySet  # BlackoutWindow, by start


def calendar_entries(start, end):
    """What the change calendar shows between ``start`` and ``end`` (datetimes, end excluded):
    the changes whose planned window overlaps it, canceled ones left out (team and assignee
    joined), and the active blackout windows overlapping it. Lazy querysets: one query each."""
    if end <= start:
        raise ValidationError({"end": "The end must be after the start."})
    changes = (
        ChangeRequest.objects.filter(planned_start__lt=end, planned_end__gt=start)
        .exclude(state=ChangeState.CANCELED)
        .select_related("assignment_team", "assignee")
        .order_by("planned_start", "id")
    )
    blackouts = BlackoutWindow.objects.filter(active=True, start__lt=end, end__gt=start).order_by("start", "id")
    return CalendarEntries(changes, blackouts)
