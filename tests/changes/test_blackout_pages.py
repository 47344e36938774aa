"""The blackout-window pages: everyone who sees changes reads them (current and upcoming by
default); managers add, edit and delete them; a window that ends before it starts is refused on
its field with nothing written."""

import datetime as dt

import pytest
from django.utils import timezone

from changes.models import BlackoutWindow
from itom.models import ObjectChange
from tests.factories import BlackoutWindowFactory, CIFactory, ci_class

pytestmark = pytest.mark.django_db


def local(value):
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M")


def names(response):
    return [row[0].name for row in response.context["rows"]]


def test_the_list_shows_current_and_upcoming_windows_and_past_ones_on_request(client, victor):
    now = timezone.now()
    BlackoutWindowFactory(
        name="Last year's freeze", start=now - dt.timedelta(days=400), end=now - dt.timedelta(days=390)
    )
    BlackoutWindowFactory(name="Audit week")
    client.force_login(victor)
    response = client.get("/changes/blackouts/")
    assert names(response) == ["Audit week"]
    assert "Add blackout window" not in response.content.decode()
    assert sorted(names(client.get("/changes/blackouts/", {"all": "1"}))) == ["Audit week", "Last year's freeze"]


def test_a_manager_adds_a_window_scoped_to_an_environment_and_a_service(client, maria):
    shop = CIFactory(name="Online shop", ci_class=ci_class("business-service"))
    start = timezone.now() + dt.timedelta(days=30)
    client.force_login(maria)
    assert client.get("/changes/blackouts/new/").status_code == 200
    response = client.post(
        "/changes/blackouts/new/",
        {
            "name": "Black Friday",
            "start": local(start),
            "end": local(start + dt.timedelta(days=3)),
            "environment": "production",
            "business_services": [shop.pk],
            "active": "on",
        },
    )
    window = BlackoutWindow.objects.get()
    assert response["Location"] == f"/changes/blackouts/{window.pk}/"
    assert window.environment == "production" and list(window.business_services.all()) == [shop]
    body = client.get(f"/changes/blackouts/{window.pk}/").content.decode()
    assert "Production · Online shop" in body
    assert ObjectChange.objects.filter(object_repr="Black Friday", action="create", user_name="maria").exists()


def test_an_end_before_the_start_is_refused_on_the_field_and_nothing_is_written(client, maria):
    start = timezone.now() + dt.timedelta(days=30)
    client.force_login(maria)
    response = client.post(
        "/changes/blackouts/new/",
        {"name": "Backwards", "start": local(start), "end": local(start - dt.timedelta(hours=1)), "active": "on"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["end"] == ["The end must be after the start."]
    assert not BlackoutWindow.objects.exists()


def test_agents_read_windows_but_may_not_write_them(client, alice):
    window = BlackoutWindowFactory(name="Audit week")
    client.force_login(alice)
    page = client.get(f"/changes/blackouts/{window.pk}/")
    assert page.status_code == 200 and f"/changes/blackouts/{window.pk}/edit/" not in page.content.decode()
    assert client.get("/changes/blackouts/new/").status_code == 403
    assert client.post(f"/changes/blackouts/{window.pk}/edit/", {"name": "Renamed"}).status_code == 403
    assert client.post(f"/changes/blackouts/{window.pk}/delete/").status_code == 403
    window.refresh_from_db()
    assert window.name == "Audit week"


def test_a_manager_edits_then_deletes_a_window(client, maria):
    window = BlackoutWindowFactory(name="Audit week")
    client.force_login(maria)
    client.post(
        f"/changes/blackouts/{window.pk}/edit/",
        {"name": "Audit fortnight", "start": local(window.start), "end": local(window.end + dt.timedelta(days=7))},
    )
    window.refresh_from_db()
    assert window.name == "Audit fortnight" and window.active is False  # an unticked box
    assert client.get(f"/changes/blackouts/{window.pk}/history/").status_code == 200
    response = client.post(f"/changes/blackouts/{window.pk}/delete/")
    assert response["Location"] == "/changes/blackouts/"
    assert not BlackoutWindow.objects.exists()
