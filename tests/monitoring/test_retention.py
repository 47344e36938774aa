"""Hourly rollups and retention (``monitoring.services.retention``): figures worked out by hand
(count, failures, latency min / avg / p95 / max), a rerun that changes nothing, late results
counted, and pruning at the exact retention boundaries."""

from datetime import UTC, datetime, timedelta

import pytest

from monitoring.models import CheckResult, CheckRollup, MetricSample
from monitoring.services import retention
from tests.monitoring.factories import CheckFactory

NOW = datetime(2025, 6, 10, 12, 30, tzinfo=UTC)
TEN = datetime(2025, 6, 10, 10, 0, tzinfo=UTC)
ELEVEN = datetime(2025, 6, 10, 11, 0, tzinfo=UTC)


def results(check, rows):
    """``rows``: ``(at, status, latency)``."""
    CheckResult.objects.bulk_create(
        CheckResult(monitor=check, at=at, status=status, latency_ms=latency) for at, status, latency in rows
    )


@pytest.fixture
def check(db):
    return CheckFactory()


def minutes(hour, *offsets):
    return [hour + timedelta(minutes=m) for m in offsets]


def test_an_hour_is_rolled_up_with_count_failures_and_latency_figures(check):
    # 10:00–11:00: 20 results, latencies 10, 20, …, 190 (one down without a latency: 200 ms is
    # not measured), plus a warning and an unknown, which are not failures.
    rows = [(TEN + timedelta(minutes=m), "up", 10.0 * (m + 1)) for m in range(19)]
    rows[3] = (rows[3][0], "warning", rows[3][2])
    rows[4] = (rows[4][0], "unknown", None)
    rows.append((TEN + timedelta(minutes=59, seconds=59), "down", None))
    results(check, rows)

    assert retention.rollup(NOW) == 1
    rollup = CheckRollup.objects.get(monitor=check, hour=TEN)
    assert (rollup.count, rollup.failures) == (20, 1)
    latencies = [10.0 * (m + 1) for m in range(19) if m != 4]  # 18 measured values
    assert rollup.latency_min == 10.0
    assert rollup.latency_max == 190.0
    assert rollup.latency_avg == pytest.approx(sum(latencies) / 18)
    # p95 of 18 sorted values: rank 0.95 × 17 = 16.15 → 180 + 0.15 × (190 − 180).
    assert rollup.latency_p95 == pytest.approx(181.5)


def test_each_check_and_hour_gets_its_own_rollup_and_the_current_hour_waits(check):
    other = CheckFactory()
    results(check, [(at, "up", 5.0) for at in minutes(TEN, 1, 2)] + [(at, "down", None) for at in minutes(ELEVEN, 5)])
    results(other, [(at, "up", 7.0) for at in minutes(ELEVEN, 1, 2, 3)])
    results(check, [(NOW - timedelta(minutes=1), "up", 1.0)])  # 12:29: the hour is not complete

    retention.rollup(NOW)

    got = {(r.monitor_id, r.hour): (r.count, r.failures) for r in CheckRollup.objects.all()}
    assert got == {(check.pk, TEN): (2, 0), (check.pk, ELEVEN): (1, 1), (other.pk, ELEVEN): (3, 0)}
    assert CheckRollup.objects.get(monitor=check, hour=ELEVEN).latency_avg is None


def test_a_rerun_changes_nothing(check):
    results(check, [(at, "up", 3.0) for at in minutes(TEN, 1, 2, 3)])
    retention.rollup(NOW)
    before = list(CheckRollup.objects.values())
    retention.rollup(NOW)
    assert list(CheckRollup.objects.values()) == before


def test_results_recorded_late_for_the_last_rolled_up_hour_count_at_the_next_run(check):
    results(check, [(at, "up", 3.0) for at in minutes(ELEVEN, 1, 2)])
    retention.rollup(NOW)
    results(check, [(ELEVEN + timedelta(minutes=59, seconds=59), "down", None)])  # a batch that reported late
    retention.rollup(NOW + timedelta(minutes=40))
    rollup = CheckRollup.objects.get(monitor=check, hour=ELEVEN)
    assert (rollup.count, rollup.failures) == (3, 1)


def test_nothing_to_roll_up_is_fine(db):
    assert retention.rollup(NOW) == 0


def test_the_python_rollup_gives_the_same_figures_as_the_database(check):
    rows = [(TEN + timedelta(minutes=m), "down" if m % 7 == 0 else "up", float((m * 37) % 101)) for m in range(60)]
    results(check, rows)
    retention.rollup(NOW)
    by_sql = CheckRollup.objects.values("count", "failures", "latency_min", "latency_max").get()
    by_sql_p95 = CheckRollup.objects.get().latency_p95
    by_sql_avg = CheckRollup.objects.get().latency_avg
    CheckRollup.objects.all().delete()
    retention._rollup_in_python(TEN, ELEVEN)
    rollup = CheckRollup.objects.get()
    assert {k: getattr(rollup, k) for k in by_sql} == by_sql
    assert rollup.latency_p95 == pytest.approx(by_sql_p95)
    assert rollup.latency_avg == pytest.approx(by_sql_avg)


def test_percentile_interpolates_between_the_closest_ranks():
    assert retention.percentile([], 0.95) is None
    assert retention.percentile([7.0], 0.95) == 7.0
    assert retention.percentile([1.0, 2.0, 3.0, 4.0, 5.0], 0.5) == 3.0
    assert retention.percentile([10.0, 20.0], 0.95) == pytest.approx(19.5)


# --- prune --------------------------------------------------------------------------------------


def test_prune_deletes_results_and_samples_past_the_retention_and_keeps_the_boundary(check, settings):
    settings.MONITORING_RESULT_RETENTION_DAYS = 7
    settings.MONITORING_ROLLUP_RETENTION_DAYS = 30
    cutoff = NOW - timedelta(days=7)
    results(check, [(cutoff - timedelta(microseconds=1), "up", 1.0), (cutoff, "up", 2.0), (NOW, "up", 3.0)])
    MetricSample.objects.bulk_create(
        MetricSample(ci=check.ci, name="cpu", value=v, time=t)
        for v, t in [(1, cutoff - timedelta(seconds=1)), (2, cutoff), (3, NOW)]
    )
    rollup_cutoff = NOW - timedelta(days=30)
    CheckRollup.objects.bulk_create(
        CheckRollup(monitor=check, hour=h, count=1, failures=0)
        for h in [rollup_cutoff - timedelta(hours=1), rollup_cutoff, NOW]
    )

    assert retention.prune(NOW) == {"results": 1, "rollups": 1, "samples": 1}

    assert sorted(CheckResult.objects.values_list("latency_ms", flat=True)) == [2.0, 3.0]
    assert sorted(MetricSample.objects.values_list("value", flat=True)) == [2.0, 3.0]
    assert sorted(CheckRollup.objects.values_list("hour", flat=True)) == [rollup_cutoff, NOW]


def test_prune_works_in_chunks_until_everything_old_is_gone(check, settings):
    settings.MONITORING_RESULT_RETENTION_DAYS = 1
    old = NOW - timedelta(days=3)
    results(check, [(old + timedelta(seconds=n), "up", None) for n in range(25)] + [(NOW, "up", None)])
    assert retention.prune(NOW, chunk=10)["results"] == 25
    assert CheckResult.objects.count() == 1
