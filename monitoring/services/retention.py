"""Rollups and retention of check results (DESIGN.md §6).

``rollup`` condenses raw results per check and hour (UTC) into ``CheckRollup`` rows: how many
results, how many failures (``down`` results: a warning is degraded but up, an unknown is the
poller not knowing), and the latency min / avg / p95 / max of the results that measured one (p95
interpolated between the closest ranks, as PostgreSQL's ``percentile_cont``). It covers the
complete hours from the last rolled-up hour (redone: results recorded late still count) up to the
current hour, and upserts, so a rerun changes nothing. ``prune`` deletes raw results and metric
samples older than ``MONITORING_RESULT_RETENTION_DAYS`` and rollups older than
``MONITORING_ROLLUP_RETENTION_DAYS``, a chunk at a time (short transactions, no long locks).
"""

import math
from collections import defaultdict
from datetime import UTC, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, Min
from django.utils import timezone

from monitoring.choices import ResultStatus
from monitoring.models import CheckResult, CheckRollup, MetricSample

PRUNE_CHUNK = 10_000
HOUR = timedelta(hours=1)


def hour_of(moment):
    """The start of ``moment``'s hour, in UTC."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def percentile(values, fraction):
    """The ``fraction`` percentile of ``values`` with linear interpolation between the closest
    ranks (PostgreSQL ``percentile_cont``); None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = fraction * (len(ordered) - 1)
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def pending_hours(now=None):
    """``(start, end)``: the hours to roll up — from the latest rolled-up hour (again) or the
    oldest raw result, to the start of the current hour; None when there is nothing."""
    now = now or timezone.now()
    end = hour_of(now)
    latest = CheckRollup.objects.aggregate(latest=Max("hour"))["latest"]
    if latest is not None:
        start = hour_of(latest)
    else:
        oldest = CheckResult.objects.filter(at__lt=end).aggregate(oldest=Min("at"))["oldest"]
        if oldest is None:
            return None
        start = hour_of(oldest)
    start = max(start, hour_of(now - timedelta(days=settings.MONITORING_RESULT_RETENTION_DAYS)) - HOUR)
    return (start, end) if start < end else None


_ROLLUP_POSTGRESQL = """
INSERT INTO {rollup} (monitor_id, hour, count, failures, latency_min, latency_avg, latency_p95, latency_max)
SELECT monitor_id, date_trunc('hour', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', count(*),
       count(*) FILTER (WHERE status = %s), min(latency_ms), avg(latency_ms),
       percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms), max(latency_ms)
FROM {result}
WHERE at >= %s AND at < %s
GROUP BY 1, 2
ON CONFLICT (monitor_id, hour) DO UPDATE SET
    count = EXCLUDED.count, failures = EXCLUDED.failures, latency_min = EXCLUDED.latency_min,
    latency_avg = EXCLUDED.latency_avg, latency_p95 = EXCLUDED.latency_p95, latency_max = EXCLUDED.latency_max
"""


def rollup(now=None):
    """Roll up the complete hours not rolled up yet (and the last one again); returns how many
    rollup rows were written."""
    hours = pending_hours(now)
    if hours is None:
        return 0
    start, end = hours
    if connection.vendor == "postgresql":
        quote = connection.ops.quote_name
        sql = _ROLLUP_POSTGRESQL.format(
            rollup=quote(CheckRollup._meta.db_table), result=quote(CheckResult._meta.db_table)
        )
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [ResultStatus.DOWN.value, start, end])
            return cursor.rowcount
    return _rollup_in_python(start, end)


def _rollup_in_python(start, end):
    """The same figures computed here (databases without ``percentile_cont``), an hour at a time."""
    written = 0
    hour = start
    while hour < end:
        groups = defaultdict(lambda: {"count": 0, "failures": 0, "latencies": []})
        rows = CheckResult.objects.filter(at__gte=hour, at__lt=hour + HOUR).values_list(
            "monitor_id", "status", "latency_ms"
        )
        for monitor_id, status, latency in rows.iterator(chunk_size=5000):
            group = groups[monitor_id]
            group["count"] += 1
            group["failures"] += status == ResultStatus.DOWN
            if latency is not None:
                group["latencies"].append(latency)
        rollups = []
        for monitor_id, group in groups.items():
            latencies = group["latencies"]
            rollups.append(
                CheckRollup(
                    monitor_id=monitor_id,
                    hour=hour,
                    count=group["count"],
                    failures=group["failures"],
                    latency_min=min(latencies) if latencies else None,
                    latency_avg=sum(latencies) / len(latencies) if latencies else None,
                    latency_p95=percentile(latencies, 0.95),
                    latency_max=max(latencies) if latencies else None,
                )
            )
        if rollups:
            with transaction.atomic():
                CheckRollup.objects.bulk_create(
                    rollups,
                    update_conflicts=True,
                    unique_fields=["monitor", "hour"],
                    update_fields=["count", "failures", "latency_min", "latency_avg", "latency_p95", "latency_max"],
                )
            written += len(rollups)
        hour += HOUR
    return written


def _delete_older(model, field, cutoff, chunk=PRUNE_CHUNK):
    """Delete ``model`` rows whose ``field`` is before ``cutoff``, ``chunk`` rows per statement."""
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    column = quote(model._meta.get_field(field).column)
    pk = quote(model._meta.pk.column)
    sql = f"DELETE FROM {table} WHERE {pk} IN (SELECT {pk} FROM {table} WHERE {column} < %s LIMIT %s)"  # noqa: S608
    value = connection.ops.adapt_datetimefield_value(cutoff)
    deleted = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [value, chunk])
            count = cursor.rowcount
        deleted += count
        if count < chunk:
            return deleted


def prune(now=None, chunk=PRUNE_CHUNK):
    """Delete what is past its retention; returns how many of each went."""
    now = now or timezone.now()
    results_cutoff = now - timedelta(days=settings.MONITORING_RESULT_RETENTION_DAYS)
    rollups_cutoff = now - timedelta(days=settings.MONITORING_ROLLUP_RETENTION_DAYS)
    return {
        "results": _delete_older(CheckResult, "at", results_cutoff, chunk),
        "rollups": _delete_older(CheckRollup, "hour", rollups_cutoff, chunk),
        "samples": _delete_older(MetricSample, "time", results_cutoff, chunk),
    }
