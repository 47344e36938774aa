"""``/api/v1/monitoring/checks/``: everyone reads checks with their runtime state, agents write
them through ``monitoring.services.checks``; the runtime state is read-only; a heartbeat shows its
ping URLs; ``{id}/results/`` and ``{id}/rollups/`` page through its history; ``{id}/test/`` and
``test/`` run a check once against a real local listener and store nothing."""

import socket
from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring.api.views import CheckViewSet
from monitoring.models import Alert, Check, CheckResult, CheckRollup
from monitoring.services import alerts
from tests.api_testing import APIEndpointTests
from tests.factories import CIFactory
from tests.monitoring.factories import CheckFactory, ZoneFactory

pytestmark = pytest.mark.django_db

CHECKS = "/api/v1/monitoring/checks/"
AGENTS_AND_UP = ("alice", "bob", "maria", "root")


@pytest.fixture
def listener():
    """A TCP port on 127.0.0.1 that accepts connections (the kernel completes the handshake)."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    yield server.getsockname()[1]
    server.close()


@pytest.fixture
def closed_port():
    """A port on 127.0.0.1 nothing listens on."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def _check_data():
    return {"name": "Shop front door", "ci": CIFactory().pk, "kind": "tcp", "target": "127.0.0.1", "port": 8443}


class TestCheckAPI(APIEndpointTests):
    viewset = CheckViewSet
    url_name = "api:monitoring-check"
    make_object = staticmethod(lambda: CheckFactory())
    create_data = staticmethod(_check_data)
    update_data = {"name": "Shop back door", "interval": 120}
    invalid_data = {"port": 70000}
    writers = AGENTS_AND_UP


def test_a_new_check_gets_the_default_zone_and_a_first_due_time_within_its_interval(alice_api):
    before = timezone.now()
    response = alice_api.post(CHECKS, {**_check_data(), "interval": 30}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["zone_name"], body["state"], body["ping_urls"]) == ("default", "pending", None)
    check = Check.objects.get(pk=body["id"])
    assert before <= check.next_due_at <= timezone.now() + timedelta(seconds=30)


def test_a_check_can_name_its_zone(alice_api):
    ZoneFactory(name="dmz")
    response = alice_api.post(CHECKS, {**_check_data(), "zone": "dmz"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["zone_name"] == "dmz"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("kind", "smoke-signal"),
        ("port", 0),
        ("port", 70000),
        ("target", "169.254.169.254"),
        ("interval", 1),
        ("zone", "nowhere"),
        ("ci", 999999),
    ],
)
def test_a_bad_field_is_a_400_naming_it_and_writes_nothing(alice_api, field, value):
    response = alice_api.post(CHECKS, {**_check_data(), field: value}, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert not Check.objects.exists()


def test_a_tcp_check_without_a_port_is_refused(alice_api):
    data = _check_data()
    del data["port"]
    response = alice_api.post(CHECKS, data, format="json")
    assert response.status_code == 400
    assert "port" in response.json()


def test_the_runtime_state_is_read_only(alice_api):
    check = CheckFactory()
    response = alice_api.patch(
        f"{CHECKS}{check.pk}/", {"state": "down", "attempt": 3, "last_message": "forged"}, format="json"
    )
    assert response.status_code == 200, response.content
    check.refresh_from_db()
    assert (check.state, check.attempt, check.last_message) == ("pending", 0, "")


def test_a_check_shows_its_runtime_state(victor_api):
    now = timezone.now()
    check = CheckFactory(
        state="down",
        state_type="soft",
        attempt=2,
        flapping=False,
        last_checked_at=now,
        last_status="down",
        last_message="connection refused",
        last_latency_ms=1.5,
        next_due_at=now + timedelta(seconds=30),
    )
    body = victor_api.get(f"{CHECKS}{check.pk}/").json()
    assert {key: body[key] for key in ("state", "state_type", "attempt", "flapping", "last_status")} == {
        "state": "down",
        "state_type": "soft",
        "attempt": 2,
        "flapping": False,
        "last_status": "down",
    }
    assert (body["last_message"], body["last_latency_ms"]) == ("connection refused", 1.5)
    assert body["last_checked_at"] and body["next_due_at"]


def test_a_heartbeat_shows_its_ping_urls(alice_api):
    data = {"name": "Nightly backup", "ci": CIFactory().pk, "kind": "heartbeat", "params": {"period": 86400}}
    response = alice_api.post(CHECKS, data, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    base = f"http://testserver/ping/{body['uuid']}"
    assert body["ping_urls"] == {"success": base, "start": f"{base}/start", "fail": f"{base}/fail"}


def test_the_list_filters_by_state_kind_and_zone(victor_api):
    dmz = ZoneFactory(name="dmz")
    down = CheckFactory(state="down", zone=dmz)
    CheckFactory(state="up")
    CheckFactory(state="down", kind="http", target="http://127.0.0.1/", port=None)
    ids = [row["id"] for row in victor_api.get(CHECKS, {"state": "down", "kind": "tcp"}).json()["results"]]
    assert ids == [down.pk]
    ids = [row["id"] for row in victor_api.get(CHECKS, {"zone": "dmz"}).json()["results"]]
    assert ids == [down.pk]
    assert victor_api.get(CHECKS, {"problem": "true"}).json()["count"] == 2


def test_viewers_cannot_write_checks(victor_api):
    check = CheckFactory()
    assert victor_api.post(CHECKS, _check_data(), format="json").status_code == 403
    assert victor_api.patch(f"{CHECKS}{check.pk}/", {"name": "x"}, format="json").status_code == 403
    assert victor_api.delete(f"{CHECKS}{check.pk}/").status_code == 403


# --- results and rollups -----------------------------------------------------------------------


def _results(check, statuses, start):
    return CheckResult.objects.bulk_create(
        CheckResult(monitor=check, at=start + timedelta(minutes=i), status=status, latency_ms=float(i))
        for i, status in enumerate(statuses)
    )


def test_the_results_are_paginated_newest_first(victor_api):
    check = CheckFactory()
    start = timezone.now() - timedelta(hours=1)
    _results(check, ["up"] * 7, start)
    _results(CheckFactory(), ["down"] * 3, start)  # another check's
    body = victor_api.get(f"{CHECKS}{check.pk}/results/", {"page_size": 5}).json()
    assert body["count"] == 7
    assert len(body["results"]) == 5 and body["next"]
    times = [row["at"] for row in body["results"]]
    assert times == sorted(times, reverse=True)
    assert {row["check"] for row in body["results"]} == {check.pk}


def test_the_results_filter_by_status_and_time(victor_api):
    check = CheckFactory()
    start = timezone.now().replace(microsecond=0) - timedelta(hours=1)
    _results(check, ["up", "down", "down", "up", "down"], start)
    url = f"{CHECKS}{check.pk}/results/"
    assert victor_api.get(url, {"status": "down"}).json()["count"] == 3
    since = (start + timedelta(minutes=2)).isoformat()
    until = (start + timedelta(minutes=4)).isoformat()
    rows = victor_api.get(url, {"status": "down", "since": since, "until": until}).json()["results"]
    assert [row["latency_ms"] for row in rows] == [2.0]
    response = victor_api.get(url, {"since": "yesterday-ish"})
    assert response.status_code == 400
    assert "since" in response.json()


def test_the_results_of_an_unknown_check_are_a_404(victor_api):
    assert victor_api.get(f"{CHECKS}999999/results/").status_code == 404


def test_the_rollups_give_uptime_per_hour(victor_api):
    check = CheckFactory()
    hour = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    CheckRollup.objects.create(monitor=check, hour=hour, count=60, failures=3, latency_avg=2.5)
    rows = victor_api.get(f"{CHECKS}{check.pk}/rollups/").json()["results"]
    assert [(row["count"], row["failures"], row["uptime"]) for row in rows] == [(60, 3, 95.0)]


# --- test now ----------------------------------------------------------------------------------


def _stored():
    return CheckResult.objects.count(), list(Check.objects.values_list("last_checked_at", "state", "updated_at"))


def test_testing_a_saved_check_runs_it_once_and_stores_nothing(alice_api, listener):
    check = CheckFactory(port=listener)
    before = _stored()
    response = alice_api.post(f"{CHECKS}{check.pk}/test/", {}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "up", body
    assert body["latency_ms"] is not None and body["started_at"]
    assert _stored() == before


def test_testing_a_saved_check_with_edited_fields_runs_the_edit(alice_api, listener, closed_port):
    check = CheckFactory(port=listener)
    response = alice_api.post(f"{CHECKS}{check.pk}/test/", {"port": closed_port}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "down"
    check.refresh_from_db()
    assert check.port == listener


def test_testing_unsaved_fields_runs_them_once(alice_api, listener, closed_port):
    before = _stored()
    up = alice_api.post(f"{CHECKS}test/", {"kind": "tcp", "target": "127.0.0.1", "port": listener}, format="json")
    down = alice_api.post(f"{CHECKS}test/", {"kind": "tcp", "target": "127.0.0.1", "port": closed_port}, format="json")
    assert (up.status_code, up.json()["status"]) == (200, "up")
    assert (down.status_code, down.json()["status"]) == (200, "down")
    assert down.json()["message"]
    assert _stored() == before


def test_testing_bad_fields_or_a_heartbeat_is_a_400(alice_api):
    response = alice_api.post(f"{CHECKS}test/", {"kind": "tcp", "target": "127.0.0.1", "port": 0}, format="json")
    assert response.status_code == 400
    assert "port" in response.json()
    response = alice_api.post(f"{CHECKS}test/", {"kind": "heartbeat", "params": {"period": 60}}, format="json")
    assert response.status_code == 400
    assert "ping URLs" in str(response.json()["kind"])


def test_viewers_cannot_run_tests(victor_api, listener):
    check = CheckFactory(port=listener)
    assert victor_api.post(f"{CHECKS}{check.pk}/test/", {}, format="json").status_code == 403
    data = {"kind": "tcp", "target": "127.0.0.1", "port": listener}
    assert victor_api.post(f"{CHECKS}test/", data, format="json").status_code == 403


def test_the_ping_urls_use_the_portals_public_address_when_it_is_set(alice_api, settings):
    settings.PORTAL_URL = "https://itom.example.com/"
    check = CheckFactory(kind="heartbeat", target="", port=None, params={"period": 3600, "grace": 60})
    body = alice_api.get(f"{CHECKS}{check.pk}/").json()
    assert body["ping_urls"]["fail"] == f"https://itom.example.com/ping/{check.uuid}/fail"


def test_disabling_a_failing_check_through_the_api_ends_its_alert_and_keeps_its_incident(alice_api):
    check = CheckFactory()
    incident = alerts.check_problem(check, status="down", message="Refused.", at=timezone.now()).incident

    response = alice_api.patch(f"{CHECKS}{check.pk}/", {"enabled": False}, format="json")

    assert response.status_code == 200, response.data
    assert response.data["enabled"] is False
    assert Alert.objects.get().status == "resolved"
    incident.refresh_from_db()
    assert incident.state == "new"
