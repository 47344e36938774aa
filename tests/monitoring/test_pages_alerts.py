"""The alert pages: the list (firing first, then the latest seen; filters by status, severity,
source and CI; CSV; a bounded number of queries) and an alert's page (labels, annotations,
occurrences, first and last seen, why it is suppressed and by what, its incident). Viewers read;
nobody writes alerts by hand; anonymous people are sent to sign in."""

import datetime as dt

import pytest
from django.utils import timezone

from incidents.models import Incident
from tests.factories import CIFactory
from tests.monitoring.factories import AlertFactory, CheckFactory, MaintenanceWindowFactory
from tests.monitoring.pages import assert_sends_to_sign_in, names, text_of

pytestmark = pytest.mark.django_db


def ago(minutes):
    return timezone.now() - dt.timedelta(minutes=minutes)


def test_the_list_shows_firing_alerts_first_then_the_latest_seen(client, victor):
    AlertFactory(name="Resolved lately", status="resolved", last_seen=ago(1), resolved_at=ago(1))
    AlertFactory(name="Firing long", last_seen=ago(30), first_seen=ago(40))
    AlertFactory(name="Firing now", last_seen=ago(2), first_seen=ago(3))
    client.force_login(victor)
    response = client.get("/monitoring/alerts/")
    assert response.status_code == 200
    assert names(response) == ["Firing now", "Firing long", "Resolved lately"]
    assert "Add alert" not in text_of(response)


def test_the_list_filters_by_status_severity_source_and_ci(client, victor):
    web = CIFactory(name="web-01")
    AlertFactory(name="Disk full", severity="critical", source="alertmanager", ci=web)
    AlertFactory(name="Slow", severity="warning", source="metric")
    AlertFactory(name="Gone", status="resolved", resolved_at=ago(1))
    client.force_login(victor)
    assert names(client.get("/monitoring/alerts/", {"status": "resolved"})) == ["Gone"]
    assert names(client.get("/monitoring/alerts/", {"severity": "critical"})) == ["Disk full"]
    assert names(client.get("/monitoring/alerts/", {"source": "metric"})) == ["Slow"]
    assert names(client.get("/monitoring/alerts/", {"ci": web.pk})) == ["Disk full"]
    assert names(client.get("/monitoring/alerts/", {"q": "disk"})) == ["Disk full"]


def test_the_list_exports_csv(client, victor):
    AlertFactory(name="Disk full")
    client.force_login(victor)
    body = b"".join(client.get("/monitoring/alerts/", {"export": "csv"}).streaming_content).decode()
    assert body.splitlines()[0].startswith("Name,Status,Severity,Source,CI")
    assert "Disk full,Firing," in body


def test_the_list_costs_a_bounded_number_of_queries(client, victor, django_assert_max_num_queries):
    for i in range(25):
        check = CheckFactory()
        incident = Incident.objects.create(title=f"Incident {i}", impact=2, urgency=2)
        AlertFactory(name=f"Alert {i}", ci=check.ci, monitor=check, incident=incident)
    client.force_login(victor)
    with django_assert_max_num_queries(10):
        response = client.get("/monitoring/alerts/")
    assert len(response.context["rows"]) == 25


def test_an_alerts_page_shows_its_labels_annotations_counts_and_incident(client, victor):
    web = CIFactory(name="web-01")
    incident = Incident.objects.create(title="[web-01] Disk full", impact=2, urgency=1)
    alert = AlertFactory(
        name="Disk full",
        source="alertmanager",
        fingerprint="am:abc123",
        ci=web,
        labels={"alertname": "DiskFull", "instance": "web-01:9100"},
        annotations={"summary": "/var is 98% full"},
        occurrences=7,
        incident=incident,
    )
    client.force_login(victor)
    response = client.get(f"/monitoring/alerts/{alert.pk}/")
    assert response.status_code == 200
    body = text_of(response)
    assert "alertname=DiskFull" in body and "instance=web-01:9100" in body
    assert "/var is 98% full" in body
    assert 'id="alert-occurrences">7<' in body
    assert "am:abc123" in body and incident.number in body


def test_an_alert_held_back_by_a_window_says_so_and_links_it(client, victor):
    web = CIFactory(name="web-01")
    window = MaintenanceWindowFactory(name="Patch night", cis=[web])
    alert = AlertFactory(name="Disk full", ci=web, suppressed="window", suppressed_by_window=window)
    client.force_login(victor)
    body = text_of(client.get(f"/monitoring/alerts/{alert.pk}/"))
    assert "Suppressed: maintenance window" in body
    assert f'href="/monitoring/maintenance/{window.pk}/">Patch night</a>' in body


def test_an_alert_attached_to_its_parents_says_which(client, victor):
    router = CIFactory(name="router-01")
    parent = AlertFactory(name="Router down", ci=router)
    alert = AlertFactory(name="Web down", suppressed="parent", parent=parent)
    client.force_login(victor)
    body = text_of(client.get(f"/monitoring/alerts/{alert.pk}/"))
    assert "An upstream CI is down" in body and "Router down" in body and "router-01" in body
    assert "Web down" in text_of(client.get(f"/monitoring/alerts/{parent.pk}/"))


def test_anonymous_people_are_sent_to_sign_in(client):
    alert = AlertFactory()
    assert_sends_to_sign_in(client, "/monitoring/alerts/", f"/monitoring/alerts/{alert.pk}/")
