"""A check's uptime and latency series (``monitoring.stats``): rollups for the complete hours,
raw results for the rest, worked out by hand."""

from datetime import UTC, datetime, timedelta

import pytest

from monitoring import stats
from monitoring.models import CheckResult, CheckRollup
from monitoring.services import retention
from tests.monitoring.factories import CheckFactory

NOW = datetime(2025, 6, 10, 12, 30, tzinfo=UTC)


@pytest.fixture
def check(db):
    return CheckFactory()


def result(check, at, status="up", latency=None):
    return CheckResult.objects.create(monitor=check, at=at, status=status, latency_ms=latency)


def test_no_results_is_no_uptime(check):
    assert stats.uptime(check, NOW - timedelta(hours=24), NOW) is None
    assert stats.uptimes(check, NOW) == {"24h": None, "7d": None, "30d": None}


def test_uptime_from_raw_results_counts_down_as_failure_and_warning_as_up(check):
    for minute, status in enumerate(["up", "up", "warning", "down", "unknown"]):
        result(check, NOW - timedelta(minutes=10 - minute), status)
    assert stats.uptime(check, NOW - timedelta(hours=1), NOW) == 80.0


def test_uptime_adds_rollups_for_whole_hours_and_raw_results_for_the_rest(check):
    since = NOW - timedelta(hours=24)  # 12:30 the day before
    # The part of the first hour before it is complete: raw results (2, one down).
    result(check, since + timedelta(minutes=5), "up")
    result(check, since + timedelta(minutes=20), "down")
    # A raw result inside a rolled-up hour is not counted twice.
    rolled_hour = datetime(2025, 6, 10, 3, 0, tzinfo=UTC)
    result(check, rolled_hour + timedelta(minutes=1), "down")
    CheckRollup.objects.create(monitor=check, hour=rolled_hour, count=100, failures=10)
    # The hours after the last rollup: raw (3, one down), including the current hour.
    result(check, datetime(2025, 6, 10, 7, 15, tzinfo=UTC), "up")
    result(check, datetime(2025, 6, 10, 9, 15, tzinfo=UTC), "down")
    result(check, NOW - timedelta(minutes=1), "up")
    # Before the span: ignored.
    result(check, since - timedelta(minutes=1), "down")

    assert stats.counts(check, since, NOW) == (2 + 100 + 3, 1 + 10 + 1)
    assert stats.uptime(check, since, NOW) == pytest.approx(100 * (105 - 12) / 105, abs=0.001)


def test_uptimes_over_24_hours_7_days_and_30_days(check):
    result(check, NOW - timedelta(hours=1), "up")
    result(check, NOW - timedelta(days=3), "down")
    CheckRollup.objects.create(monitor=check, hour=datetime(2025, 5, 20, 10, tzinfo=UTC), count=8, failures=0)
    assert stats.uptimes(check, NOW) == {"24h": 100.0, "7d": 50.0, "30d": 90.0}


def test_uptime_agrees_before_and_after_the_rollup(check):
    for minute in range(0, 180, 7):
        result(check, NOW - timedelta(minutes=minute), "down" if minute % 3 == 0 else "up", 5.0)
    before = stats.uptime(check, NOW - timedelta(hours=2, minutes=50), NOW)
    retention.rollup(NOW)
    assert CheckRollup.objects.exists()
    assert stats.uptime(check, NOW - timedelta(hours=2, minutes=50), NOW) == before


def test_latency_series_over_a_day_is_every_measured_result_oldest_first(check):
    result(check, NOW - timedelta(hours=25), "up", 1.0)  # too old
    result(check, NOW - timedelta(hours=2), "up", 20.0)
    result(check, NOW - timedelta(hours=1), "down", None)  # not measured
    result(check, NOW - timedelta(minutes=5), "up", 30.0)
    assert stats.latency_series(check, 24, now=NOW) == [
        (NOW - timedelta(hours=2), 20.0),
        (NOW - timedelta(minutes=5), 30.0),
    ]


def test_latency_series_over_a_month_is_hourly_averages_then_the_raw_tail(check):
    h1 = datetime(2025, 6, 1, 8, tzinfo=UTC)
    h2 = datetime(2025, 6, 10, 10, tzinfo=UTC)
    CheckRollup.objects.create(monitor=check, hour=h1, count=2, failures=0, latency_avg=12.5)
    CheckRollup.objects.create(monitor=check, hour=h2, count=2, failures=0, latency_avg=15.0)
    result(check, h2 + timedelta(minutes=3), "up", 99.0)  # inside the rolled-up hour
    result(check, NOW - timedelta(minutes=10), "up", 40.0)
    assert stats.latency_series(check, 24 * 30, now=NOW) == [
        (h1, 12.5),
        (h2, 15.0),
        (NOW - timedelta(minutes=10), 40.0),
    ]
