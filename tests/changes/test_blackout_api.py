"""``/api/v1/changes/blackouts/``: everyone reads the blackout windows, only managers write them;
an end before the start or a CI that is not a business service is a 400 naming the field."""

from datetime import timedelta

import pytest
from django.utils import timezone

from changes.api.configuration import BlackoutWindowViewSet
from changes.models import BlackoutWindow
from tests.api_testing import APIEndpointTests
from tests.conftest import token_client
from tests.factories import BlackoutWindowFactory, CIFactory, ci_class

pytestmark = pytest.mark.django_db

BLACKOUTS = "/api/v1/changes/blackouts/"


def _window_data():
    start = (timezone.now() + timedelta(days=20)).replace(microsecond=0)
    return {"name": "Quarter close", "start": start.isoformat(), "end": (start + timedelta(days=3)).isoformat()}


class TestBlackoutWindowAPI(APIEndpointTests):
    viewset = BlackoutWindowViewSet
    url_name = "api:change-blackout"
    make_object = staticmethod(lambda: BlackoutWindowFactory())
    create_data = staticmethod(_window_data)
    update_data = {"reason": "Finance closes the books."}
    invalid_data = {"environment": "moon"}


def test_a_scoped_window_is_written_with_its_classes_and_services(maria):
    shop = CIFactory(name="Online shop", ci_class=ci_class("business-service"))
    servers = ci_class("linux-server")
    payload = {
        **_window_data(),
        "environment": "production",
        "ci_classes": [servers.slug],
        "business_services": [shop.pk],
    }
    response = token_client(maria).post(BLACKOUTS, payload, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["environment"], body["ci_classes"], body["business_services"]) == (
        "production",
        [servers.pk],
        [shop.pk],
    )


def test_an_end_before_the_start_is_a_400_on_the_end_and_writes_nothing(maria):
    data = _window_data()
    data["start"], data["end"] = data["end"], data["start"]
    response = token_client(maria).post(BLACKOUTS, data, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["end"]
    assert not BlackoutWindow.objects.exists()


def test_a_ci_that_is_not_a_business_service_is_refused(maria):
    server = CIFactory(name="db-01", ci_class=ci_class("linux-server"))
    response = token_client(maria).post(BLACKOUTS, {**_window_data(), "business_services": [server.pk]}, format="json")
    assert response.status_code == 400
    assert "business_services" in response.json()


def test_agents_and_approvers_read_but_cannot_write_blackouts(alice, nina):
    window = BlackoutWindowFactory(name="Freeze")
    for user in (alice, nina):
        client = token_client(user)
        assert client.get(f"{BLACKOUTS}{window.pk}/").status_code == 200
        assert client.post(BLACKOUTS, _window_data(), format="json").status_code == 403
        assert client.patch(f"{BLACKOUTS}{window.pk}/", {"active": False}, format="json").status_code == 403
    window.refresh_from_db()
    assert window.active


def test_the_list_keeps_the_windows_overlapping_a_period(victor):
    now = timezone.now()
    soon = BlackoutWindowFactory(name="Soon", start=now + timedelta(days=1), end=now + timedelta(days=2))
    BlackoutWindowFactory(name="Later", start=now + timedelta(days=30), end=now + timedelta(days=31))
    params = {"during_after": now.isoformat(), "during_before": (now + timedelta(days=7)).isoformat()}
    body = token_client(victor).get(BLACKOUTS, params).json()
    assert [w["name"] for w in body["results"]] == [soon.name]
