"""A batch (``engine.run_batch``) against real local listeners: results written in bulk with a
bounded number of queries, the next run scheduled by interval (or retry interval while a problem
is soft), checks that vanished, were disabled or were claimed again left alone, and ``record``
never failing on what a probe returned."""

import math
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from monitoring.models import Alert, Check, CheckResult
from monitoring.probes import Outcome
from monitoring.services import engine
from tests.monitoring.factories import CheckFactory, MaintenanceWindowFactory
from tests.monitoring.servers import TCPServer, closed_port


@pytest.fixture
def poller(settings):
    settings.MONITORING_RECLAIM_SECONDS = 30
    settings.MONITORING_DISPATCH_SECONDS = 5
    settings.MONITORING_CONCURRENCY = 25
    return settings


@pytest.fixture
def listeners():
    servers = [TCPServer() for _ in range(8)]
    yield servers
    for server in servers:
        server.close()


def due(**fields):
    fields.setdefault("next_due_at", timezone.now() - timedelta(seconds=1))
    return CheckFactory(**fields)


def claim_and_run(now=None):
    """Claim what is due and run it as one batch, the way the worker does."""
    claims = engine.claim_due(now)
    return engine.run_batch([c.check_id for c in claims], [c.lease.isoformat() for c in claims])


def test_a_batch_of_200_checks_is_written_with_a_bounded_number_of_queries(
    db, poller, listeners, django_assert_max_num_queries
):
    refused = closed_port()
    up = [due(port=listeners[n % len(listeners)].port, interval=60) for n in range(150)]
    down = [due(port=refused, interval=60, retry_interval=20, max_attempts=3) for _ in range(50)]
    claims = engine.claim_due()
    assert len(claims) == 200
    was_due = dict(Check.objects.values_list("pk", "next_due_at"))

    with django_assert_max_num_queries(15):
        figures = engine.run_batch([c.check_id for c in claims], [c.lease.isoformat() for c in claims])

    assert figures["recorded"] == 200 and figures["results"] == 200 and figures["skipped"] == 0
    assert CheckResult.objects.filter(monitor__in=up, status="up").count() == 150
    assert CheckResult.objects.filter(monitor__in=down, status="down").count() == 50
    for check in Check.objects.filter(pk__in=[c.pk for c in up]):
        assert (check.state, check.state_type, check.consecutive_ok) == ("up", "hard", 1)
        assert check.claimed_until is None
        # The next run keeps the check's phase: one interval after it was due.
        assert check.next_due_at == was_due[check.pk] + timedelta(seconds=60)
        assert check.last_latency_ms is not None
    for check in Check.objects.filter(pk__in=[c.pk for c in down]):
        assert (check.state, check.state_type, check.attempt) == ("down", "soft", 1)
        assert "refused" in check.last_message
        # A soft problem is looked at again after the retry interval.
        assert check.next_due_at == check.last_checked_at + timedelta(seconds=20)


def test_a_result_records_when_the_run_started_its_lag_and_the_state_after(db, poller, listeners):
    check = due(port=listeners[0].port)
    claim_and_run()
    result = CheckResult.objects.get(monitor=check)
    check.refresh_from_db()
    assert result.at == check.last_checked_at
    assert result.state == "up"
    assert result.lag_ms is not None and result.lag_ms >= 0


def test_a_check_due_later_in_the_dispatch_period_does_not_start_before_its_due_time(db, poller, listeners):
    when = timezone.now() + timedelta(seconds=1.5)
    check = due(port=listeners[0].port, next_due_at=when)
    claim_and_run()
    assert CheckResult.objects.get(monitor=check).at >= when


def test_a_hard_problem_is_retried_at_the_normal_interval(db, poller):
    check = due(port=closed_port(), max_attempts=1, interval=90, retry_interval=15)
    was_due = check.next_due_at
    claim_and_run()
    check.refresh_from_db()
    assert (check.state, check.state_type) == ("down", "hard")
    assert check.next_due_at == was_due + timedelta(seconds=90)


def test_a_check_that_ran_late_keeps_its_phase_and_one_later_than_an_interval_starts_afresh(db, poller, listeners):
    on_time = due(port=listeners[0].port, interval=60, next_due_at=timezone.now() - timedelta(seconds=20))
    very_late = due(port=listeners[0].port, interval=60, next_due_at=timezone.now() - timedelta(seconds=90))
    was_due = dict(Check.objects.values_list("pk", "next_due_at"))
    claim_and_run()
    on_time.refresh_from_db()
    very_late.refresh_from_db()
    assert on_time.next_due_at == was_due[on_time.pk] + timedelta(seconds=60)  # 40 s from now: bunching thins out
    assert very_late.next_due_at == very_late.last_checked_at + timedelta(seconds=60)


def test_a_batch_leaves_out_checks_deleted_or_disabled_since_they_were_claimed(db, poller, listeners):
    kept, gone, disabled = (due(port=listeners[0].port) for _ in range(3))
    claims = engine.claim_due()
    gone.delete()
    Check.objects.filter(pk=disabled.pk).update(enabled=False)

    figures = engine.run_batch([c.check_id for c in claims], [c.lease.isoformat() for c in claims])

    assert (figures["recorded"], figures["skipped"]) == (1, 2)
    assert list(CheckResult.objects.values_list("monitor_id", flat=True)) == [kept.pk]
    disabled.refresh_from_db()
    assert disabled.last_checked_at is None


def test_a_stale_batch_whose_checks_were_claimed_again_stores_nothing(db, poller, listeners):
    check = due(port=listeners[0].port, timeout=5)
    now = timezone.now()
    (stale,) = engine.claim_due(now)
    # Its worker died; the lease expired and the next dispatch claimed the check again.
    (fresh,) = engine.claim_due(now + timedelta(seconds=5 + 30 + 1))
    assert fresh.lease != stale.lease

    figures = engine.run_batch([check.pk], [stale.lease.isoformat()])
    assert (figures["recorded"], figures["skipped"]) == (0, 1)
    assert not CheckResult.objects.exists()
    check.refresh_from_db()
    assert check.claimed_until == fresh.lease

    engine.run_batch([check.pk], [fresh.lease.isoformat()])
    assert CheckResult.objects.filter(monitor=check).count() == 1


def test_a_batch_redelivered_after_its_checks_were_recorded_stores_nothing(db, poller, listeners):
    check = due(port=listeners[0].port)
    (claim,) = engine.claim_due()
    args = ([check.pk], [claim.lease.isoformat()])
    engine.run_batch(*args)
    engine.run_batch(*args)
    assert CheckResult.objects.filter(monitor=check).count() == 1


def test_record_leaves_a_check_whose_lease_changed_during_the_run(db, poller):
    check = due()
    (claim,) = engine.claim_due()
    Check.objects.filter(pk=check.pk).update(claimed_until=claim.lease + timedelta(seconds=1))
    figures = engine.record(
        [(check.pk, Outcome("up", 1.0, "ok", timezone.now().timestamp()))], leases={check.pk: claim.lease}
    )
    assert figures["recorded"] == 0
    assert not CheckResult.objects.exists()


def run_again(check):
    """Run ``check`` again now (its next run brought forward)."""
    Check.objects.filter(pk=check.pk).update(next_due_at=timezone.now())
    return claim_and_run()


def test_an_empty_batch_or_one_of_unknown_ids_does_nothing(db, poller):
    assert engine.run_batch([])["recorded"] == 0
    assert engine.run_batch([999_999], ["2025-01-01T00:00:00+00:00"])["recorded"] == 0


def test_a_batch_with_garbled_arguments_records_nothing_and_does_not_fail(db, poller):
    check = due()
    engine.claim_due()
    figures = engine.run_batch(["x", None, check.pk], ["y", "z", "not a date"])
    assert figures["recorded"] == 0
    assert not CheckResult.objects.exists()


# --- what a probe returns -------------------------------------------------------------------------


class Unprintable:
    def __str__(self):
        raise RuntimeError("no")


class Bare:
    """Not an Outcome at all."""


ODD_OUTCOMES = [
    Outcome("exploded", None, "x", 0),
    Outcome("up", float("nan"), "nan latency", None),
    Outcome("up", float("inf"), "infinite latency", "yesterday"),
    Outcome("up", -5, "negative latency", 1e20),
    Outcome("up", "fast", "latency as text", -1e20),
    Outcome("down", 1e30, "huge latency", float("nan")),
    Outcome("down", None, "nul \x00 bytes \x00 in the answer", 0),
    Outcome("down", None, "a lone surrogate \udcff from a bad decode", 0),
    Outcome("warning", 3.0, "é" * 100_000, 0),
    Outcome(None, None, None, None),
    Outcome("up", 2.0, "", 0),
    Bare(),
]


def test_record_never_fails_on_what_a_probe_returned(db, poller):
    checks = [due() for _ in ODD_OUTCOMES]
    unprintable = Outcome("down", None, "", 0)
    unprintable.message = Unprintable()
    checks.append(due())
    outcomes = [*ODD_OUTCOMES, unprintable]

    figures = engine.record(list(zip(checks, outcomes, strict=True)))

    assert figures["recorded"] == len(checks) == figures["results"]
    results = {r.monitor_id: r for r in CheckResult.objects.all()}
    statuses = [results[check.pk].status for check in checks]
    assert statuses[0] == "unknown" and "no valid status" in results[checks[0].pk].message
    assert statuses[9] == "unknown"
    assert results[checks[11].pk].status == "unknown"  # a bare object: no status
    for result in results.values():
        assert result.latency_ms is None or (math.isfinite(result.latency_ms) and 0 <= result.latency_ms <= 1e9)
        assert len(result.message) <= 500 and "\x00" not in result.message
    assert "nul  bytes" in results[checks[6].pk].message
    assert results[checks[4].pk].latency_ms is None
    assert results[checks[-1].pk].message == "(unprintable message)"
    # A start time out of reason is the time of recording.
    assert abs((results[checks[3].pk].at - timezone.now()).total_seconds()) < 60


def test_record_takes_a_start_time_as_the_result_time(db, poller):
    check = due()
    started = datetime(2025, 1, 1, tzinfo=UTC)
    engine.record([(check, Outcome("up", 1.0, "ok", started.timestamp()))], now=started + timedelta(seconds=2))
    assert CheckResult.objects.get(monitor=check).at == started


# --- heartbeats in a batch ----------------------------------------------------------------------


def heartbeat(**fields):
    fields.setdefault("params", {"period": 60, "grace": 30})
    return CheckFactory(kind="heartbeat", target="", port=None, **fields)


def test_a_silent_heartbeat_past_period_and_grace_is_down_without_any_network(db, poller):
    pinged = timezone.now() - timedelta(seconds=95)
    check = heartbeat(last_ping_at=pinged, next_due_at=pinged + timedelta(seconds=90), max_attempts=1)

    figures = claim_and_run()

    assert figures["results"] == 1
    check.refresh_from_db()
    assert (check.state, check.state_type) == ("down", "hard")
    assert check.last_message.startswith("No ping since ")
    assert Alert.objects.filter(monitor=check, status="firing").exists()


def test_a_heartbeat_within_its_grace_is_only_re_armed(db, poller):
    pinged = timezone.now() - timedelta(seconds=88)
    check = heartbeat(last_ping_at=pinged, next_due_at=timezone.now() + timedelta(seconds=2))

    figures = claim_and_run()

    assert (figures["recorded"], figures["results"]) == (1, 0)
    check.refresh_from_db()
    assert check.next_due_at == pinged + timedelta(seconds=90)
    assert check.claimed_until is None and check.state == "pending"


def test_a_heartbeat_never_pinged_is_down_once_period_and_grace_passed_since_its_creation(db, poller):
    check = heartbeat(max_attempts=1)
    Check.objects.filter(pk=check.pk).update(
        created_at=timezone.now() - timedelta(minutes=5), next_due_at=timezone.now() - timedelta(minutes=3)
    )
    claim_and_run()
    check.refresh_from_db()
    assert check.state == "down"
    assert "since the check was created" in check.last_message


# --- the loop: alerts and incidents -------------------------------------------------------------


def test_a_hard_failure_opens_one_incident_and_recovery_resolves_it(db, poller):
    port = closed_port()
    check = due(port=port, max_attempts=2, retry_interval=10, recovery_threshold=1)
    claim_and_run()
    assert not Alert.objects.exists()  # soft
    run_again(check)
    run_again(check)

    alert = Alert.objects.get(monitor=check)
    assert (alert.status, alert.occurrences) == ("firing", 2)
    assert alert.incident is not None

    server = TCPServer()
    try:
        Check.objects.filter(pk=check.pk).update(port=server.port)
        run_again(check)
    finally:
        server.close()
    alert.refresh_from_db()
    assert alert.status == "resolved"
    alert.incident.refresh_from_db()
    assert alert.incident.state == "resolved"


def test_a_check_under_maintenance_records_its_failures_and_opens_no_incident(db, poller):
    check = due(port=closed_port(), max_attempts=1)
    MaintenanceWindowFactory(cis=[check.ci])
    claim_and_run()
    check.refresh_from_db()
    assert check.state == "maintenance"
    assert CheckResult.objects.get(monitor=check).status == "down"
    alert = Alert.objects.get(monitor=check)
    assert alert.suppressed == "window" and alert.incident is None
