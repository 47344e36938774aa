"""Heartbeat checks through their real URLs: ``/ping/<uuid>`` (success), ``/start`` and
``/fail`` — no session, no token, no CSRF; unknown and malformed uuids get a plain-text 404 and
nothing is written; a heartbeat silent past its period and grace goes down through the
dispatcher's own batch path."""

import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from monitoring.models import Alert, Check, CheckResult
from monitoring.services import engine, heartbeats
from tests.monitoring.factories import CheckFactory


@pytest.fixture
def heartbeat(db):
    return CheckFactory(
        kind="heartbeat",
        target="",
        port=None,
        params={"period": 300, "grace": 60},
        max_attempts=1,
        recovery_threshold=1,
    )


@pytest.fixture
def pinger():
    """An anonymous client that enforces CSRF like a browser would (pings must not need it)."""
    return Client(enforce_csrf_checks=True)


def test_a_ping_records_an_up_result_and_re_arms_the_check(heartbeat, pinger):
    before = timezone.now()
    response = pinger.get(f"/ping/{heartbeat.uuid}")

    assert response.status_code == 200
    assert response.content == b"OK"
    assert response["Content-Type"].startswith("text/plain")
    heartbeat.refresh_from_db()
    assert heartbeat.state == "up" and heartbeat.last_status == "up"
    assert heartbeat.last_ping_at >= before
    assert heartbeat.next_due_at == heartbeat.last_ping_at + timedelta(seconds=360)
    assert CheckResult.objects.get(monitor=heartbeat).status == "up"


def test_a_ping_may_be_a_post_without_a_csrf_token_and_its_body_is_the_message(heartbeat, pinger):
    response = pinger.post(f"/ping/{heartbeat.uuid}", data="backup done: 42 GB", content_type="text/plain")
    assert response.status_code == 200
    assert CheckResult.objects.get(monitor=heartbeat).message == "backup done: 42 GB"


def test_a_trailing_slash_is_accepted(heartbeat, pinger):
    assert pinger.get(f"/ping/{heartbeat.uuid}/").status_code == 200
    assert pinger.get(f"/ping/{heartbeat.uuid}/fail/").status_code == 200


def test_a_fail_ping_records_a_down_result_and_alerts(heartbeat, pinger):
    response = pinger.post(f"/ping/{heartbeat.uuid}/fail", data="exit code 3", content_type="text/plain")

    assert response.status_code == 200
    heartbeat.refresh_from_db()
    assert (heartbeat.state, heartbeat.state_type) == ("down", "hard")
    assert heartbeat.last_message == "exit code 3"
    alert = Alert.objects.get(monitor=heartbeat)
    assert alert.status == "firing"
    # The job's next success recovers it.
    pinger.get(f"/ping/{heartbeat.uuid}")
    alert.refresh_from_db()
    assert alert.status == "resolved"


def test_start_then_success_reports_how_long_the_job_ran(heartbeat, pinger):
    assert pinger.get(f"/ping/{heartbeat.uuid}/start").status_code == 200
    heartbeat.refresh_from_db()
    assert heartbeat.last_start_at is not None
    assert not CheckResult.objects.exists()  # a start is no result

    Check.objects.filter(pk=heartbeat.pk).update(last_start_at=timezone.now() - timedelta(seconds=42))
    pinger.get(f"/ping/{heartbeat.uuid}")

    result = CheckResult.objects.get(monitor=heartbeat)
    assert result.latency_ms == pytest.approx(42_000, abs=2_000)
    heartbeat.refresh_from_db()
    assert heartbeat.last_start_at is None


@pytest.mark.parametrize("suffix", ["", "/start", "/fail"])
def test_an_unknown_uuid_is_a_plain_404_and_writes_nothing(heartbeat, pinger, suffix):
    response = pinger.get(f"/ping/{uuid.uuid4()}{suffix}")
    assert response.status_code == 404
    assert response.content == b"No heartbeat check with this uuid."
    assert response["Content-Type"].startswith("text/plain")
    assert not CheckResult.objects.exists()


@pytest.mark.parametrize("key", ["not-a-uuid", "1234", "%00", "x" * 300, "00000000-0000-0000-0000-00000000000g"])
def test_a_malformed_uuid_is_a_plain_404_and_writes_nothing(heartbeat, pinger, key):
    response = pinger.post(f"/ping/{key}/fail")
    assert response.status_code == 404
    assert response.content == b"No heartbeat check with this uuid."
    assert not CheckResult.objects.exists()


def test_a_disabled_heartbeat_or_another_kind_of_check_is_not_pingable(db, pinger):
    disabled = CheckFactory(kind="heartbeat", target="", port=None, params={"period": 60, "grace": 0}, enabled=False)
    tcp = CheckFactory()
    assert pinger.get(f"/ping/{disabled.uuid}").status_code == 404
    assert pinger.get(f"/ping/{tcp.uuid}").status_code == 404
    assert not CheckResult.objects.exists()


def test_other_methods_are_refused(heartbeat, pinger):
    assert pinger.delete(f"/ping/{heartbeat.uuid}").status_code == 405
    assert not CheckResult.objects.exists()


def test_a_huge_body_is_cut_and_the_message_kept_short(heartbeat, pinger):
    response = pinger.post(f"/ping/{heartbeat.uuid}/fail", data="x" * 1_000_000, content_type="text/plain")
    assert response.status_code == 200
    assert len(CheckResult.objects.get(monitor=heartbeat).message) <= 500


def test_a_ping_while_a_silence_batch_is_running_wins_over_it(heartbeat, settings):
    settings.MONITORING_DISPATCH_SECONDS = 5
    Check.objects.filter(pk=heartbeat.pk).update(
        last_ping_at=timezone.now() - timedelta(seconds=400), next_due_at=timezone.now() - timedelta(seconds=40)
    )
    (claim,) = engine.claim_due()
    heartbeats.ping(heartbeat.uuid)  # the job pinged after all, before the batch recorded
    engine.run_batch([claim.check_id], [claim.lease.isoformat()])

    assert list(CheckResult.objects.values_list("status", flat=True)) == ["up"]
    heartbeat.refresh_from_db()
    assert heartbeat.state == "up"


def test_silence_past_period_and_grace_turns_the_heartbeat_down_through_the_batch_path(heartbeat, settings, pinger):
    settings.MONITORING_DISPATCH_SECONDS = 5
    pinger.get(f"/ping/{heartbeat.uuid}")
    heartbeat.refresh_from_db()
    assert engine.claim_due() == []  # nothing due while it is on time

    # Six minutes and a bit of silence (period 300 s + grace 60 s).
    pinged = timezone.now() - timedelta(seconds=361)
    Check.objects.filter(pk=heartbeat.pk).update(last_ping_at=pinged, next_due_at=pinged + timedelta(seconds=360))
    claims = engine.claim_due()
    assert [claim.check_id for claim in claims] == [heartbeat.pk]
    engine.run_batch([c.check_id for c in claims], [c.lease.isoformat() for c in claims])

    heartbeat.refresh_from_db()
    assert (heartbeat.state, heartbeat.last_status) == ("down", "down")
    assert heartbeat.last_message.startswith("No ping since ")
    assert Alert.objects.get(monitor=heartbeat).status == "firing"
    # The next run looks again one interval after this one was due, not after period + grace.
    assert heartbeat.next_due_at == pinged + timedelta(seconds=360 + heartbeat.interval)


def test_a_started_job_that_never_finished_says_so(heartbeat, settings):
    settings.MONITORING_DISPATCH_SECONDS = 5
    pinged = timezone.now() - timedelta(seconds=500)
    Check.objects.filter(pk=heartbeat.pk).update(
        last_ping_at=pinged, last_start_at=pinged + timedelta(seconds=60), next_due_at=pinged + timedelta(seconds=360)
    )
    claims = engine.claim_due()
    engine.run_batch([c.check_id for c in claims], [c.lease.isoformat() for c in claims])
    heartbeat.refresh_from_db()
    assert heartbeat.last_message.startswith("Started at ") and "not finished" in heartbeat.last_message


def test_the_service_refuses_an_unknown_signal(heartbeat):
    with pytest.raises(ValueError):
        heartbeats.ping(heartbeat.uuid, "explode")
