"""``/api/v1/monitoring/zones/``: everyone reads the zones, managers write them; the default zone
and a zone that still has checks can't be deleted (409)."""

import pytest

from monitoring.api.views import ZoneViewSet
from monitoring.models import Zone
from tests.api_testing import APIEndpointTests
from tests.monitoring.factories import CheckFactory, ZoneFactory, default_zone

pytestmark = pytest.mark.django_db

ZONES = "/api/v1/monitoring/zones/"


class TestZoneAPI(APIEndpointTests):
    viewset = ZoneViewSet
    url_name = "api:monitoring-zone"
    make_object = staticmethod(lambda: ZoneFactory())
    create_data = {"name": "dmz", "description": "Polled from the DMZ's own worker."}
    update_data = {"description": "Behind the second firewall."}
    invalid_data = {"name": "Not A Queue Name!"}


def test_a_zone_tells_its_queue_and_how_many_checks_it_has(victor_api):
    zone = ZoneFactory(name="branch-office")
    CheckFactory(zone=zone)
    CheckFactory(zone=zone)
    body = victor_api.get(f"{ZONES}{zone.pk}/").json()
    assert (body["name"], body["queue"], body["checks"]) == ("branch-office", "poll.branch-office", 2)


def test_agents_read_zones_but_cannot_write_them(alice_api):
    zone = ZoneFactory(name="lab")
    assert alice_api.get(f"{ZONES}{zone.pk}/").status_code == 200
    assert alice_api.post(ZONES, {"name": "lab-2"}, format="json").status_code == 403
    assert alice_api.patch(f"{ZONES}{zone.pk}/", {"description": "x"}, format="json").status_code == 403
    assert not Zone.objects.filter(name="lab-2").exists()


def test_a_zone_with_checks_cannot_be_deleted(maria_api):
    check = CheckFactory(zone=ZoneFactory(name="plant"))
    response = maria_api.delete(f"{ZONES}{check.zone_id}/")
    assert response.status_code == 409
    assert Zone.objects.filter(pk=check.zone_id).exists()


def test_the_default_zone_is_neither_deleted_nor_renamed(maria_api):
    zone = default_zone()
    assert maria_api.delete(f"{ZONES}{zone.pk}/").status_code == 409
    response = maria_api.patch(f"{ZONES}{zone.pk}/", {"name": "main"}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()
    assert Zone.objects.filter(pk=zone.pk, name="default").exists()


def test_zone_names_are_unique(maria_api):
    ZoneFactory(name="dmz")
    response = maria_api.post(ZONES, {"name": "dmz"}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()
