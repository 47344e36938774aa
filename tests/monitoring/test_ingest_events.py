"""``POST /api/v1/monitoring/ingest/events/``: the generic, batched event format.

``{"events": [{"fingerprint" (or "key"), "status": "firing" | "resolved", "name", "summary",
"severity", "ci", "labels", "time"}]}``: each fires or resolves the portal alert
``ev:<fingerprint>``; ``ci`` is an id, a name, an FQDN or an IP. A bad event is a 400 naming it
(``events[2].severity``) and nothing of the batch is processed."""

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.models import Incident
from monitoring.models import Alert
from tests.factories import CIFactory
from tests.monitoring.ingest_helpers import EVENTS, client_for, integration

pytestmark = pytest.mark.django_db


@pytest.fixture
def sender():
    return integration("events", name="Nagios bridge")


@pytest.fixture
def api(sender):
    return client_for(sender[1])


def post(api, *events):
    return api.post(EVENTS, {"events": list(events)}, format="json")


def test_a_batch_of_events_fires_alerts_with_their_cis_and_severities(api, sender):
    db = CIFactory(name="db-01", fqdn="db-01.example.com", ip_addresses=["10.1.0.7"])
    at = (timezone.now() - timedelta(minutes=3)).replace(microsecond=0)
    response = post(
        api,
        {
            "fingerprint": "db-01/disk",
            "name": "Disk 95% full",
            "severity": "major",
            "ci": db.pk,
            "time": at.isoformat(),
        },
        {"key": "db-01/swap", "name": "Swapping", "severity": "warning", "ci": "db-01.example.com"},
        {"key": "db-01/load", "name": "Load high", "ci": "10.1.0.7", "labels": {"team": "dba", "cores": 8}},
    )
    assert response.status_code == 202, response.content
    assert response.json() == {"received": 3, "firing": 3, "resolved": 0, "alerts": 3, "incidents_opened": 3}
    alerts = {a.fingerprint: a for a in Alert.objects.all()}
    disk = alerts["ev:db-01/disk"]
    assert (disk.source, disk.name, disk.severity, disk.ci, disk.first_seen) == (
        "events",
        "Disk 95% full",
        "major",
        db,
        at,
    )
    assert disk.integration == sender[0]
    assert alerts["ev:db-01/swap"].ci == db
    load = alerts["ev:db-01/load"]
    assert (load.ci, load.severity, load.labels) == (db, "major", {"team": "dba", "cores": "8"})


def test_repeats_in_one_batch_fold_into_one_alert_and_a_resolve_after_them_resolves_it(api):
    CIFactory(name="app-01")
    events = [{"key": "app-01/queue", "name": "Queue backlog", "ci": "app-01"}] * 5
    events.append({"key": "app-01/queue", "status": "resolved"})
    response = post(api, *events)
    assert response.status_code == 202, response.content
    assert response.json()["firing"] == 5 and response.json()["resolved"] == 1
    alert = Alert.objects.select_related("incident").get()
    assert (alert.status, alert.occurrences) == ("resolved", 5)
    assert alert.incident.state == "resolved"


def test_an_unknown_ci_gives_an_alert_without_a_ci(api):
    response = post(api, {"key": "k1", "name": "Something", "ci": "nowhere.example.com"})
    assert response.status_code == 202
    assert Alert.objects.get().ci is None


def test_the_key_is_one_problem_whichever_event_integration_reports_it(api):
    other = client_for(integration("events")[1])
    post(api, {"key": "shared", "name": "Power"})
    post(other, {"key": "shared", "name": "Power"})
    assert Alert.objects.get().occurrences == 2
    assert Incident.objects.count() == 1


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"name": "No key"}, "events[1].fingerprint"),
        ({"key": "k", "name": "x", "status": "open"}, "events[1].status"),
        ({"key": "k"}, "events[1].name"),
        ({"key": "k", "name": "x", "severity": "apocalyptic"}, "events[1].severity"),
        ({"key": "k", "name": "x", "time": "tomorrow"}, "events[1].time"),
        ({"key": "k", "name": "x", "time": "2025-03-31T10:00:00"}, "events[1].time"),
        ({"key": "k", "name": "x", "time": (timezone.now() + timedelta(hours=2)).isoformat()}, "events[1].time"),
        ({"key": "k", "name": "x", "labels": ["a", "b"]}, "events[1].labels"),
        ({"key": "k", "name": "x", "ci": {"id": 1}}, "events[1].ci"),
        ({"key": "k" * 201, "name": "x"}, "events[1].key"),
    ],
)
def test_a_bad_event_is_a_400_naming_it_and_nothing_is_processed(api, event, field):
    response = post(api, {"key": "good", "name": "Fine"}, event)
    assert response.status_code == 400, response.content
    assert list(response.json()) == [field]
    assert not Alert.objects.exists()


def test_a_payload_without_events_is_a_400(api):
    response = api.post(EVENTS, {"alerts": []}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["events"]


def test_too_many_events_in_one_request_is_a_400(api):
    response = post(api, *([{"key": "k", "name": "x"}] * 10_001))
    assert response.status_code == 400
    assert "At most 10000" in response.json()["events"][0]
