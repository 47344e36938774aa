"""The zones page: everyone who sees monitoring reads each zone with its checks, its problems and
the command that starts a worker polling it from inside its network."""

import pytest

from tests.monitoring.factories import CheckFactory, ZoneFactory, default_zone
from tests.monitoring.pages import assert_sends_to_sign_in, text_of

pytestmark = pytest.mark.django_db


def test_each_zone_shows_its_checks_and_its_worker_command(client, victor, django_assert_max_num_queries):
    dmz = ZoneFactory(name="dmz", description="The DMZ, polled from inside it.")
    CheckFactory(zone=dmz, state="down")
    CheckFactory(zone=dmz, state="up")
    CheckFactory(zone=default_zone(), enabled=False)
    client.force_login(victor)
    with django_assert_max_num_queries(8):
        response = client.get("/monitoring/zones/")
    assert response.status_code == 200
    zones = {zone.name: zone for zone in response.context["zones"]}
    assert (zones["dmz"].enabled_count, zones["dmz"].problem_count) == (2, 1)
    assert (zones["default"].enabled_count, zones["default"].check_count) == (0, 1)
    body = text_of(response)
    assert "celery -A itom worker -Q poll.dmz" in body and "celery -A itom worker -Q poll.default" in body
    assert "Add zone" not in body


def test_anonymous_people_are_sent_to_sign_in(client):
    assert_sends_to_sign_in(client, "/monitoring/zones/")
