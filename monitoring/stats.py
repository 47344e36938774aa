"""A check's uptime and latency over time, for its page and the API.

Uptime counts the share of results that were not ``down`` (see ``services.retention``): from the
hourly rollups for the complete hours they cover, and from the raw results for the rest (the part
of the first hour before it is complete, and the hours not rolled up yet). The latency series is
raw results over short spans and the hourly average beyond ``RAW_SERIES_HOURS``.
"""

from datetime import timedelta

from django.db.models import Count, Max, Q, Sum
from django.utils import timezone

from monitoring.choices import ResultStatus
from monitoring.models import CheckResult, CheckRollup
from monitoring.services.retention import HOUR, hour_of

RAW_SERIES_HOURS = 48
UPTIME_SPANS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}


def _ceil_hour(moment):
    start = hour_of(moment)
    return start if start == moment else start + HOUR


def _raw(check, start, end):
    """``(count, failures)`` of the raw results of ``check`` in ``[start, end)``."""
    if start >= end:
        return 0, 0
    figures = CheckResult.objects.filter(monitor=check, at__gte=start, at__lt=end).aggregate(
        count=Count("id"), failures=Count("id", filter=Q(status=ResultStatus.DOWN))
    )
    return figures["count"] or 0, figures["failures"] or 0


def counts(check, since, now=None):
    """``(count, failures)`` of ``check``'s results from ``since`` to ``now``."""
    now = now or timezone.now()
    if since >= now:
        return 0, 0
    first_full = _ceil_hour(since)
    last_full = hour_of(now)  # rollups cover [first_full, last_full)
    count = failures = 0
    raw_from = since
    if first_full < last_full:
        rolled = CheckRollup.objects.filter(monitor=check, hour__gte=first_full, hour__lt=last_full).aggregate(
            count=Sum("count"), failures=Sum("failures"), latest=Max("hour")
        )
        if rolled["latest"] is not None:
            count, failures = rolled["count"] or 0, rolled["failures"] or 0
            head = _raw(check, since, first_full)
            count, failures = count + head[0], failures + head[1]
            raw_from = rolled["latest"] + HOUR
    tail = _raw(check, raw_from, now)
    return count + tail[0], failures + tail[1]


def uptime(check, since, now=None):
    """The percentage of ``check``'s results since ``since`` that were not down; None when
    there were none."""
    count, failures = counts(check, since, now)
    if not count:
        return None
    return round(100.0 * (count - failures) / count, 3)


def uptimes(check, now=None):
    """``{"24h": %, "7d": %, "30d": %}`` (None where there were no results)."""
    now = now or timezone.now()
    return {label: uptime(check, now - span, now) for label, span in UPTIME_SPANS.items()}


def latency_series(check, hours=24, now=None):
    """``[(time, ms)]`` oldest first over the last ``hours``: every measured result up to
    ``RAW_SERIES_HOURS``, the hourly average (at the start of its hour) beyond, with the raw
    results of the hours not rolled up yet."""
    now = now or timezone.now()
    since = now - timedelta(hours=hours)
    measured = CheckResult.objects.filter(monitor=check, latency_ms__isnull=False).order_by("at", "id")
    if hours <= RAW_SERIES_HOURS:
        return list(measured.filter(at__gte=since, at__lte=now).values_list("at", "latency_ms"))
    series = list(
        CheckRollup.objects.filter(monitor=check, hour__gte=hour_of(since), latency_avg__isnull=False)
        .order_by("hour")
        .values_list("hour", "latency_avg")
    )
    raw_from = series[-1][0] + HOUR if series else since
    series += list(measured.filter(at__gte=raw_from, at__lte=now).values_list("at", "latency_ms"))
    return series
