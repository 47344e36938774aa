"""``POST /api/v1/monitoring/ingest/alertmanager/``: Prometheus Alertmanager's webhook (version 4).

Each alert fires or resolves the portal alert ``am:<fingerprint>`` through the same alert →
incident path as the checks; its CI is found from its labels by name, FQDN or IP (a port
stripped); an alert naming no known CI still opens an incident, without a CI. A malformed payload
is a 400 naming the bad field, and nothing of it is processed. An alert storm stays one incident
per fingerprint, its occurrences adding up."""

import copy
import importlib
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.apps import apps as django_apps
from django.db import connection
from django.utils import timezone

from incidents.models import Incident
from monitoring.models import Alert, IngestWindow
from tests.factories import CIFactory
from tests.monitoring.ingest_helpers import ALERTMANAGER, am_alert, am_payload, client_for, integration

pytestmark = pytest.mark.django_db


@pytest.fixture
def prometheus():
    return integration("alertmanager", name="Prometheus")


@pytest.fixture
def am(prometheus):
    return client_for(prometheus[1])


def nothing_written():
    return (Alert.objects.count(), Incident.objects.count())


def test_a_firing_group_of_several_alerts_opens_an_incident_per_alert(am, prometheus):
    db = CIFactory(name="db-01", criticality=1)
    web = CIFactory(name="web-01")
    payload = am_payload(
        am_alert("1a2b3c4d5e6f7081", instance="db-01:9100"),
        am_alert("1a2b3c4d5e6f7082", instance="web-01:9100", severity="warning"),
        am_alert("1a2b3c4d5e6f7083", instance="web-01:9100", alertname="DiskFull", severity="major"),
    )
    response = am.post(ALERTMANAGER, payload, format="json")
    assert response.status_code == 202, response.content
    assert response.json() == {"received": 3, "firing": 3, "resolved": 0, "alerts": 3, "incidents_opened": 3}
    alerts = {a.fingerprint: a for a in Alert.objects.select_related("incident")}
    first = alerts["am:1a2b3c4d5e6f7081"]
    assert (first.source, first.status, first.name, first.severity, first.ci) == (
        "alertmanager",
        "firing",
        "HighErrorRate",
        "critical",
        db,
    )
    assert first.integration == prometheus[0]
    assert first.labels["instance"] == "db-01:9100"
    assert first.summary == "HighErrorRate on db-01:9100"
    assert first.incident.title == "[db-01] HighErrorRate"
    assert (first.incident.impact, first.incident.urgency) == (1, 1)  # criticality 1, critical
    assert alerts["am:1a2b3c4d5e6f7082"].severity == "warning"
    assert alerts["am:1a2b3c4d5e6f7083"].ci == web
    assert Incident.objects.count() == 3


def test_the_same_notification_again_adds_occurrences_and_no_incident(am):
    CIFactory(name="db-01")
    payload = am_payload(am_alert("aaaa000000000001", instance="db-01:9100"))
    assert am.post(ALERTMANAGER, payload, format="json").json()["incidents_opened"] == 1
    again = am.post(ALERTMANAGER, payload, format="json")
    assert again.status_code == 202
    assert again.json()["incidents_opened"] == 0
    alert = Alert.objects.get()
    assert alert.occurrences == 2
    assert Incident.objects.count() == 1


def test_first_seen_is_when_prometheus_says_the_alert_started_last_seen_when_it_was_heard(am):
    CIFactory(name="db-01")
    started = timezone.now().replace(microsecond=0) - timedelta(minutes=7)
    alert = am_alert("aaaa000000000002", instance="db-01:9100")
    alert["startsAt"] = started.isoformat().replace("+00:00", "Z")
    before = timezone.now()
    assert am.post(ALERTMANAGER, am_payload(alert), format="json").status_code == 202

    stored = Alert.objects.get()
    assert stored.first_seen == started
    assert stored.last_seen >= before
    assert f"First seen {started:%Y-%m-%d %H:%M:%S}" in stored.incident.description

    # A startsAt in the future (a skewed clock) is not believed: first seen is when it was heard.
    Alert.objects.all().delete()
    alert["fingerprint"] = "aaaa000000000003"
    alert["startsAt"] = (timezone.now() + timedelta(minutes=2)).isoformat().replace("+00:00", "Z")
    assert am.post(ALERTMANAGER, am_payload(alert), format="json").status_code == 202
    stored = Alert.objects.get()
    assert stored.first_seen <= timezone.now()
    assert stored.first_seen == stored.last_seen


@pytest.mark.parametrize(
    ("label", "value"),
    [
        ("instance", "db-01"),  # by name
        ("instance", "DB-01:9100"),  # by name, any case, port stripped
        ("instance", "db-01.prod.example.com:9100"),  # by FQDN, port stripped
        ("host", "db-01.prod.example.com."),  # by FQDN with the root dot
        ("instance", "10.0.0.5:9100"),  # by IP, port stripped
        ("instance", "[2001:db8::5]:9100"),  # by IPv6 in brackets, port stripped
        ("instance", "https://db-01.prod.example.com:8443/health"),  # a blackbox target URL
        ("ci", "db-01"),
        ("hostname", "10.0.0.5"),
        ("fqdn", "db-01.prod.example.com"),
    ],
)
def test_the_labels_name_the_ci_by_name_fqdn_or_ip(am, label, value):
    db = CIFactory(name="db-01", fqdn="db-01.prod.example.com", ip_addresses=["10.0.0.5", "2001:db8::5"])
    CIFactory(name="db-02", fqdn="db-02.prod.example.com", ip_addresses=["10.0.0.50"])
    alert = am_alert("bbbb000000000001")
    alert["labels"][label] = value
    response = am.post(ALERTMANAGER, am_payload(alert), format="json")
    assert response.status_code == 202, response.content
    assert Alert.objects.get().ci == db


def test_the_ci_label_wins_over_the_instance(am):
    CIFactory(name="exporter-host")
    app = CIFactory(name="billing")
    alert = am_alert("cccc000000000001", instance="exporter-host:9100", ci="billing")
    response = am.post(ALERTMANAGER, am_payload(alert), format="json")
    assert response.status_code == 202
    assert Alert.objects.get().ci == app


def test_an_alert_naming_no_known_ci_still_opens_an_incident_without_a_ci(am):
    response = am.post(ALERTMANAGER, am_payload(am_alert("dddd000000000001", instance="ghost:9100")), format="json")
    assert response.status_code == 202, response.content
    alert = Alert.objects.select_related("incident").get()
    assert alert.ci is None
    assert alert.incident.title == "HighErrorRate"
    assert list(alert.incident.affected_cis.all()) == []


def test_resolved_resolves_the_alert_and_its_incident(am):
    CIFactory(name="db-01")
    firing = am_alert("eeee000000000001", instance="db-01:9100")
    am.post(ALERTMANAGER, am_payload(firing), format="json")
    ended = timezone.now()
    resolved = {**firing, "status": "resolved", "endsAt": ended.isoformat().replace("+00:00", "Z")}
    response = am.post(ALERTMANAGER, am_payload(resolved), format="json")
    assert response.status_code == 202, response.content
    assert response.json()["resolved"] == 1
    alert = Alert.objects.select_related("incident").get()
    assert alert.status == "resolved"
    assert alert.resolved_at == ended
    assert alert.incident.state == "resolved"


def test_a_resolved_alert_never_seen_firing_is_accepted_and_opens_nothing(am):
    response = am.post(ALERTMANAGER, am_payload(am_alert("ffff000000000001", status="resolved")), format="json")
    assert response.status_code == 202
    assert nothing_written() == (0, 0)


def test_an_info_alert_opens_no_incident(am):
    response = am.post(ALERTMANAGER, am_payload(am_alert("abab000000000001", severity="info")), format="json")
    assert response.status_code == 202
    assert (Alert.objects.count(), Incident.objects.count()) == (1, 0)


def test_an_unknown_severity_label_takes_the_integrations_default(am, prometheus):
    prometheus[0].default_severity = "minor"
    prometheus[0].save()
    am.post(ALERTMANAGER, am_payload(am_alert("acac000000000001", severity="sev-3")), format="json")
    assert Alert.objects.get().severity == "minor"


# --- bad payloads: a 400 naming the field, nothing written --------------------------------------


def _bad(am, payload, **kwargs):
    before = nothing_written()
    response = am.post(ALERTMANAGER, payload, **kwargs)
    assert response.status_code == 400, response.content
    assert nothing_written() == before
    return response.json()


def test_malformed_json_is_a_400(am):
    body = _bad(am, '{"version": "4", "alerts": [', content_type="application/json")
    assert "JSON parse error" in body["detail"]


def test_a_json_list_instead_of_an_object_is_a_400(am):
    assert "non_field_errors" in _bad(am, [am_alert("a")], format="json")


def test_another_webhook_version_is_a_400_naming_the_version(am):
    payload = am_payload(am_alert("0101000000000001"))
    payload["version"] = "3"
    assert list(_bad(am, payload, format="json")) == ["version"]


@pytest.mark.parametrize(
    ("drop", "field"),
    [
        ("version", "version"),
        ("groupKey", "groupKey"),
        ("status", "status"),
        ("alerts", "alerts"),
    ],
)
def test_a_missing_top_level_field_is_a_400_naming_it(am, drop, field):
    payload = am_payload(am_alert("0202000000000001"))
    del payload[drop]
    assert field in _bad(am, payload, format="json")


@pytest.mark.parametrize(
    ("drop", "field"),
    [
        ("fingerprint", "alerts[1].fingerprint"),
        ("startsAt", "alerts[1].startsAt"),
        ("labels", "alerts[1].labels"),
        ("status", "alerts[1].status"),
    ],
)
def test_a_missing_field_of_one_alert_is_a_400_naming_it_and_the_good_alerts_are_not_processed(am, drop, field):
    good, bad = am_alert("0303000000000001"), am_alert("0303000000000002")
    del bad[drop]
    body = _bad(am, am_payload(good, bad), format="json")
    assert list(body) == [field]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("startsAt", "yesterday at noon"),
        ("startsAt", "2025-03-31T14:00:00"),  # no zone
        ("startsAt", "2025-02-30T14:00:00Z"),  # no such day
        ("startsAt", 1743429600),
        ("endsAt", "2025-13-01T00:00:00Z"),
    ],
)
def test_a_bad_timestamp_is_a_400_naming_it(am, key, value):
    alert = am_alert("0404000000000001")
    alert[key] = value
    body = _bad(am, am_payload(am_alert("0404000000000000"), alert), format="json")
    assert list(body) == [f"alerts[1].{key}"]


def test_bad_labels_and_status_are_400s_naming_them(am):
    alert = am_alert("0505000000000001")
    alert["labels"]["team"] = {"nested": "object"}
    alert["status"] = "burning"
    body = _bad(am, am_payload(alert), format="json")
    assert set(body) == {"alerts[0].labels.team", "alerts[0].status"}


def test_a_refused_payload_is_not_counted_against_the_rate_limit(am):
    payload = am_payload(am_alert("0606000000000001"))
    payload["version"] = "2"
    _bad(am, payload, format="json")
    assert not IngestWindow.objects.exists()


# --- an alert storm ----------------------------------------------------------------------------


def test_an_alert_storm_stays_one_incident_per_fingerprint_with_its_occurrences_summed(am):
    """2,000 alerts over 50 fingerprints in ten POSTs (each fingerprint four times in each)."""
    hosts = [CIFactory(name=f"node-{n:02d}") for n in range(50)]
    fingerprints = [f"{n:016x}" for n in range(1, 51)]
    counts = []
    for post in range(10):
        alerts = [
            am_alert(fingerprints[(post + i) % 50], instance=f"{hosts[(post + i) % 50].name}:9100") for i in range(200)
        ]
        response = am.post(ALERTMANAGER, am_payload(*copy.deepcopy(alerts)), format="json")
        assert response.status_code == 202, response.content
        counts.append(response.json())
    assert sum(c["received"] for c in counts) == 2000
    assert sum(c["incidents_opened"] for c in counts) == 50
    assert counts[0]["alerts"] == 50 and counts[0]["incidents_opened"] == 50
    assert Incident.objects.count() == 50
    assert Alert.objects.count() == 50
    assert set(Alert.objects.values_list("occurrences", flat=True)) == {40}
    assert len(set(Alert.objects.values_list("incident_id", flat=True))) == 50
    assert {alert.ci.name for alert in Alert.objects.select_related("ci")} == {h.name for h in hosts}


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(180)
def test_a_storm_posted_by_concurrent_senders_stays_one_incident_per_fingerprint():
    """Five senders (threads, each with its own database connection) post the same 50 alerts
    twice each at the same moment: 50 incidents, 10 occurrences per alert."""
    importlib.import_module("cmdb.migrations.0002_catalogue").seed(django_apps, None)
    importlib.import_module("incidents.migrations.0002_priority_matrix").seed(django_apps, None)
    hosts = [CIFactory(name=f"edge-{n:02d}") for n in range(50)]
    _, token = integration("alertmanager")
    payload = am_payload(*(am_alert(f"{n:016x}", instance=f"{host.name}:9100") for n, host in enumerate(hosts)))
    barrier = threading.Barrier(5)

    def sender():
        try:
            client = client_for(token)
            barrier.wait(timeout=30)
            return [client.post(ALERTMANAGER, payload, format="json").status_code for _ in range(2)]
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=5) as pool:
        codes = [code for codes in pool.map(lambda _: sender(), range(5)) for code in codes]
    assert codes == [202] * 10
    assert Incident.objects.count() == 50
    assert Alert.objects.count() == 50
    assert set(Alert.objects.values_list("occurrences", flat=True)) == {10}
    assert Alert.objects.filter(incident__isnull=True).count() == 0
