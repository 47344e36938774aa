"""Change management's key figures over a period (issue 5 item 8): the home page's "Change KPIs"
panel for managers and ``GET /api/v1/changes/kpis/``.

- ``closed``, ``successful``, ``success_rate``: changes closed in the period, those closed with a
  successful code (``SUCCESS_CODES``), and the share of the second among the first;
- ``created``, ``emergency``, ``emergency_share``: changes created in the period, the emergency
  ones among them, and their share;
- ``caused_incidents``, ``caused_incidents_rate``: changes closed in the period that are marked as
  the cause of at least one incident, and their share of the changes closed;
- ``approval_lead_time_hours``: ``{"median", "mean", "count"}`` of ``approved_at −
  approval_requested_at``, in hours, over the changes approved in the period.

A rate or a lead time is None when there is nothing to divide. Rates are fractions (0.75, not
75), rounded to 4 decimals; hours to 2. Two queries.
"""

import datetime as dt
import statistics

from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from changes.choices import SUCCESS_CODES, ChangeState, ChangeType
from changes.models import ChangeRequest


def _bound(value, *, end=False):
    """A datetime as it is; a date as the start of that day in the portal's time zone — or, for
    the end of a period, of the next day (so the end date is included)."""
    if isinstance(value, dt.datetime):
        return value if timezone.is_aware(value) else timezone.make_aware(value)
    day = value + dt.timedelta(days=1) if end else value
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _ratio(part, whole):
    return round(part / whole, 4) if whole else None


def change_kpis(start, end):
    """The key figures for changes between ``start`` (included) and ``end`` (excluded when a
    datetime; a date is included whole). See the module docstring for each figure."""
    start, end = _bound(start), _bound(end, end=True)
    closed = Q(state=ChangeState.CLOSED, closed_at__gte=start, closed_at__lt=end)
    created = Q(created_at__gte=start, created_at__lt=end)
    caused = Exists(ChangeRequest.caused_incidents.through.objects.filter(changerequest_id=OuterRef("pk")))
    counts = (
        ChangeRequest.objects.filter(closed | created)
        .annotate(caused=caused)
        .aggregate(
            closed=Count("pk", filter=closed),
            successful=Count("pk", filter=closed & Q(close_code__in=SUCCESS_CODES)),
            caused_incidents=Count("pk", filter=closed & Q(caused=True)),
            created=Count("pk", filter=created),
            emergency=Count("pk", filter=created & Q(type=ChangeType.EMERGENCY)),
        )
    )
    lead_times = [
        (approved - requested).total_seconds() / 3600
        for requested, approved in ChangeRequest.objects.filter(
            approved_at__gte=start, approved_at__lt=end, approval_requested_at__isnull=False
        ).values_list("approval_requested_at", "approved_at")
    ]
    return {
        "start": start,
        "end": end,
        "closed": counts["closed"],
        "successful": counts["successful"],
        "success_rate": _ratio(counts["successful"], counts["closed"]),
        "created": counts["created"],
        "emergency": counts["emergency"],
        "emergency_share": _ratio(counts["emergency"], counts["created"]),
        "caused_incidents": counts["caused_incidents"],
        "caused_incidents_rate": _ratio(counts["caused_incidents"], counts["closed"]),
        "approval_lead_time_hours": {
            "median": round(statistics.median(lead_times), 2) if lead_times else None,
            "mean": round(statistics.fmean(lead_times), 2) if lead_times else None,
            "count": len(lead_times),
        },
    }
