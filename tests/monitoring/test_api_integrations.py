"""``/api/v1/monitoring/integrations/``: managers add, change and delete inbound integrations;
the token is answered once — on create and on ``{id}/rotate/`` — stored only as a SHA-256 hash,
and kept out of the audit trail. Everyone else reads at most."""

import hashlib

import pytest

from itom.models import ObjectChange
from monitoring.api.views import IntegrationViewSet
from monitoring.models import Integration
from monitoring.services import integrations
from tests.api_testing import APIEndpointTests
from tests.monitoring.factories import IntegrationFactory

pytestmark = pytest.mark.django_db

INTEGRATIONS = "/api/v1/monitoring/integrations/"
EVENTS = "/api/v1/monitoring/ingest/events/"


def _integration():
    return integrations.create_integration(user=None, name=f"Sender {Integration.objects.count()}", kind="events")[0]


class TestIntegrationAPI(APIEndpointTests):
    viewset = IntegrationViewSet
    url_name = "api:monitoring-integration"
    make_object = staticmethod(_integration)
    create_data = {"name": "Prometheus", "kind": "alertmanager"}
    update_data = {"requests_per_minute": 120}
    invalid_data = {"kind": "carrier-pigeon"}


def _event():
    return {"events": [{"key": "disk-full", "name": "Disk full", "severity": "info"}]}


def test_the_token_is_answered_once_and_stored_hashed(maria_api, anon):
    response = maria_api.post(INTEGRATIONS, {"name": "Nagios bridge", "kind": "events"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    token = body["token"]
    assert token.startswith(f"itomi_{body['token_prefix']}_")
    assert body["endpoint"] == f"http://testserver{EVENTS}"
    integration = Integration.objects.get(pk=body["id"])
    assert integration.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert "token" not in maria_api.get(f"{INTEGRATIONS}{integration.pk}/").json()
    assert all("token" not in row for row in maria_api.get(INTEGRATIONS).json()["results"])
    created = ObjectChange.objects.get(
        object_id=str(integration.pk), action="create", content_type__model="integration"
    )
    assert token not in str(created.postchange_data)
    assert integration.token_hash not in str(created.postchange_data)
    anon.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert anon.post(EVENTS, _event(), format="json").status_code == 202


def test_rotating_gives_a_new_token_and_the_old_one_stops_working(maria_api, anon):
    integration, old = integrations.create_integration(user=None, name="Zabbix", kind="events")
    response = maria_api.post(f"{INTEGRATIONS}{integration.pk}/rotate/", format="json")
    assert response.status_code == 200, response.content
    new = response.json()["token"]
    assert new != old
    anon.credentials(HTTP_AUTHORIZATION=f"Bearer {old}")
    assert anon.post(EVENTS, _event(), format="json").status_code == 401
    anon.credentials(HTTP_AUTHORIZATION=f"Bearer {new}")
    assert anon.post(EVENTS, _event(), format="json").status_code == 202


def test_agents_and_viewers_read_integrations_but_cannot_write_or_rotate(alice_api, victor_api):
    integration = IntegrationFactory()
    for client in (alice_api, victor_api):
        assert client.get(f"{INTEGRATIONS}{integration.pk}/").status_code == 200
        assert client.post(INTEGRATIONS, {"name": "x", "kind": "events"}, format="json").status_code == 403
        assert client.post(f"{INTEGRATIONS}{integration.pk}/rotate/", format="json").status_code == 403
    assert Integration.objects.get(pk=integration.pk).token_hash == integration.token_hash


def test_a_rate_limit_below_one_is_refused(maria_api):
    response = maria_api.post(INTEGRATIONS, {"name": "x", "kind": "events", "items_per_minute": 0}, format="json")
    assert response.status_code == 400
    assert "items_per_minute" in response.json()
