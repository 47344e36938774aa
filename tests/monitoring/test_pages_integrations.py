"""The integration pages are managers' (they hold tokens): a manager adds an integration and sees
its token once, with how to point Alertmanager (or an event sender, or a metrics pusher) at it;
rotates the token (the old one stops); edits and deletes it. Agents and viewers are refused;
anonymous people are sent to sign in."""

import pytest

from monitoring.models import Integration
from monitoring.services import integrations as services
from tests.monitoring.factories import AlertFactory
from tests.monitoring.pages import assert_refused, assert_sends_to_sign_in, names, text_of

pytestmark = pytest.mark.django_db


def make(maria, name="Prometheus", kind="alertmanager"):
    return services.create_integration(user=maria, name=name, kind=kind)


def test_a_manager_adds_an_integration_and_sees_its_token_once(client, maria):
    client.force_login(maria)
    assert client.get("/monitoring/integrations/new/").status_code == 200
    response = client.post(
        "/monitoring/integrations/new/",
        {
            "name": "Prometheus",
            "kind": "alertmanager",
            "default_severity": "major",
            "requests_per_minute": "600",
            "items_per_minute": "20000",
            "enabled": "on",
        },
    )
    integration = Integration.objects.get()
    token = response.context["new_token"]
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    assert services.authenticate(token) == integration
    body = text_of(response)
    assert token in body and "it is not shown again" in body
    assert "http://testserver/api/v1/monitoring/ingest/alertmanager/" in body
    assert f"credentials: {token}" in body and "webhook_configs" in body
    again = text_of(client.get(f"/monitoring/integrations/{integration.pk}/"))
    assert token not in again and "credentials: <token>" in again


def test_the_examples_follow_the_kind(client, maria):
    events, _ = make(maria, "Zabbix", "events")
    metrics, _ = make(maria, "Telegraf", "metrics")
    client.force_login(maria)
    assert "/api/v1/monitoring/ingest/events/" in text_of(client.get(f"/monitoring/integrations/{events.pk}/"))
    body = text_of(client.get(f"/monitoring/integrations/{metrics.pk}/"))
    assert "/api/v1/monitoring/metrics/" in body and '"samples"' in body


def test_a_name_taken_is_refused_on_the_field(client, maria):
    make(maria)
    client.force_login(maria)
    response = client.post(
        "/monitoring/integrations/new/",
        {
            "name": "Prometheus",
            "kind": "events",
            "default_severity": "major",
            "requests_per_minute": "1",
            "items_per_minute": "1",
        },
    )
    assert response.status_code == 200 and "name" in response.context["form"].errors
    assert Integration.objects.count() == 1


def test_rotating_the_token_shows_the_new_one_and_stops_the_old(client, maria):
    integration, old = make(maria)
    client.force_login(maria)
    response = client.post(f"/monitoring/integrations/{integration.pk}/rotate/")
    new = response.context["new_token"]
    assert new != old and new in text_of(response)
    assert services.authenticate(old) is None and services.authenticate(new) == integration


def test_a_manager_lists_edits_and_deletes_integrations(client, maria):
    integration, _ = make(maria)
    AlertFactory(name="Disk full", integration=integration, source="alertmanager")
    client.force_login(maria)
    assert names(client.get("/monitoring/integrations/")) == ["Prometheus"]
    assert "Disk full" in text_of(client.get(f"/monitoring/integrations/{integration.pk}/"))
    response = client.post(
        f"/monitoring/integrations/{integration.pk}/edit/",
        {
            "name": "Prometheus",
            "kind": "alertmanager",
            "default_severity": "minor",
            "requests_per_minute": "60",
            "items_per_minute": "1000",
        },
    )
    assert response["Location"] == f"/monitoring/integrations/{integration.pk}/"
    integration.refresh_from_db()
    assert (integration.requests_per_minute, integration.enabled, integration.default_severity) == (60, False, "minor")
    assert client.get(f"/monitoring/integrations/{integration.pk}/history/").status_code == 200
    client.post(f"/monitoring/integrations/{integration.pk}/delete/")
    assert not Integration.objects.exists()


def test_agents_and_viewers_are_refused(client, maria, alice, victor):
    integration, _ = make(maria)
    for person in (alice, victor):
        client.force_login(person)
        assert_refused(
            client,
            get=[
                "/monitoring/integrations/",
                f"/monitoring/integrations/{integration.pk}/",
                "/monitoring/integrations/new/",
            ],
            post=[
                f"/monitoring/integrations/{integration.pk}/rotate/",
                f"/monitoring/integrations/{integration.pk}/delete/",
            ],
        )
        assert "/monitoring/integrations/" not in text_of(client.get("/monitoring/"))
    assert Integration.objects.filter(token_hash=integration.token_hash).exists()


def test_anonymous_people_are_sent_to_sign_in(client):
    assert_sends_to_sign_in(client, "/monitoring/integrations/")
