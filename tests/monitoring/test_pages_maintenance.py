"""The maintenance-window pages: everyone who sees monitoring reads them; agents add (one-off or
weekly, CIs picked, classes and tags), edit and delete them; a window without anything to cover
or ending before it starts is refused on its field with nothing written."""

import datetime as dt

import pytest
from django.utils import timezone

from itom.models import ObjectChange
from monitoring.models import MaintenanceWindow
from tests.factories import CIFactory, ci_class
from tests.monitoring.factories import AlertFactory, MaintenanceWindowFactory
from tests.monitoring.pages import assert_refused, assert_sends_to_sign_in, names, text_of

pytestmark = pytest.mark.django_db


def local(value):
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M")


def test_viewers_list_windows_and_read_one(client, victor):
    web = CIFactory(name="web-01")
    window = MaintenanceWindowFactory(name="Patch night", cis=[web], reason="Kernel updates")
    MaintenanceWindowFactory(name="Weekly backup", weekly=True, ci_classes=[ci_class("database")])
    AlertFactory(name="Web down", ci=web, suppressed="window", suppressed_by_window=window)
    client.force_login(victor)
    response = client.get("/monitoring/maintenance/")
    assert response.status_code == 200
    assert sorted(names(response)) == ["Patch night", "Weekly backup"]
    body = text_of(response)
    assert "web-01" in body and "class Database" in body
    assert "New maintenance window" not in body
    detail = client.get(f"/monitoring/maintenance/{window.pk}/")
    body = text_of(detail)
    assert detail.context["running"] is True and "running now" in body
    assert "Kernel updates" in body and "web-01" in body and "Web down" in body
    assert f"/monitoring/maintenance/{window.pk}/edit/" not in body


def test_the_list_costs_a_bounded_number_of_queries(client, victor, django_assert_max_num_queries):
    for i in range(20):
        MaintenanceWindowFactory(name=f"Window {i}", cis=[CIFactory()], tags=["pci"])
    client.force_login(victor)
    with django_assert_max_num_queries(12):
        response = client.get("/monitoring/maintenance/")
    assert len(response.context["rows"]) == 20


def test_an_agent_adds_a_one_off_window_for_a_ci(client, alice):
    web = CIFactory(name="web-01")
    start = timezone.now() + dt.timedelta(days=1)
    client.force_login(alice)
    assert client.get("/monitoring/maintenance/new/", {"ci": web.pk}).context["chosen_cis"] == [web]
    response = client.post(
        "/monitoring/maintenance/new/",
        {
            "name": "Patch night",
            "recurrence": "once",
            "start": local(start),
            "end": local(start + dt.timedelta(hours=2)),
            "cis": [web.pk],
            "active": "on",
        },
    )
    window = MaintenanceWindow.objects.get()
    assert response["Location"] == f"/monitoring/maintenance/{window.pk}/"
    assert list(window.cis.all()) == [web] and window.created_by.username == "alice"
    assert ObjectChange.objects.filter(object_repr="Patch night", action="create", user_name="alice").exists()


def test_an_agent_adds_a_weekly_window_for_a_class(client, alice):
    client.force_login(alice)
    response = client.post(
        "/monitoring/maintenance/new/",
        {
            "name": "Sunday backups",
            "recurrence": "weekly",
            "start": local(timezone.now()),
            "weekdays": ["6"],
            "start_time": "02:00",
            "duration_minutes": "90",
            "ci_classes": [ci_class("database").pk],
            "active": "on",
        },
    )
    assert response.status_code == 302
    window = MaintenanceWindow.objects.get()
    assert (window.weekdays, window.start_time, window.duration_minutes) == ([6], dt.time(2, 0), 90)
    assert "Sun at 02:00 for 90 min" in text_of(client.get(window.get_absolute_url()))


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"recurrence": "once", "start": "2030-01-02T10:00", "end": "2030-01-02T09:00"}, "end"),
        ({"recurrence": "once", "start": "2030-01-02T10:00", "end": "2030-01-02T12:00", "cis": []}, "cis"),
        (
            {"recurrence": "weekly", "start": "2030-01-02T10:00", "start_time": "02:00", "duration_minutes": "60"},
            "weekdays",
        ),
        (
            {"recurrence": "weekly", "weekdays": ["1"], "start_time": "02:00", "duration_minutes": "20000"},
            "duration_minutes",
        ),
    ],
)
def test_a_bad_window_is_refused_on_its_field_and_nothing_is_written(client, alice, data, field):
    web = CIFactory(name="web-01")
    client.force_login(alice)
    response = client.post("/monitoring/maintenance/new/", {"name": "Broken", "cis": [web.pk], "active": "on", **data})
    assert response.status_code == 200
    assert field in response.context["form"].errors, response.context["form"].errors
    assert not MaintenanceWindow.objects.exists()


def test_an_agent_edits_and_deletes_a_window(client, alice):
    web, db = CIFactory(name="web-01"), CIFactory(name="db-01")
    window = MaintenanceWindowFactory(name="Patch night", cis=[web])
    client.force_login(alice)
    form = client.get(f"/monitoring/maintenance/{window.pk}/edit/").context["form"]
    assert form.initial["cis"] == [web.pk]
    data = {
        "name": "Patch night (moved)",
        "recurrence": "once",
        "start": local(window.start),
        "end": local(window.end + dt.timedelta(hours=1)),
        "cis": [web.pk, db.pk],
        "active": "on",
    }
    response = client.post(f"/monitoring/maintenance/{window.pk}/edit/", data)
    assert response["Location"] == f"/monitoring/maintenance/{window.pk}/"
    window.refresh_from_db()
    assert window.name == "Patch night (moved)" and set(window.cis.all()) == {web, db}
    history = client.get(f"/monitoring/maintenance/{window.pk}/history/")
    assert history.status_code == 200 and history.context["changes"]
    response = client.post(f"/monitoring/maintenance/{window.pk}/delete/")
    assert response["Location"] == "/monitoring/maintenance/"
    assert not MaintenanceWindow.objects.exists()


def test_viewers_may_not_write_windows(client, victor):
    window = MaintenanceWindowFactory(name="Patch night", cis=[CIFactory()])
    client.force_login(victor)
    assert_refused(
        client,
        get=["/monitoring/maintenance/new/"],
        post=[
            (f"/monitoring/maintenance/{window.pk}/edit/", {"name": "Renamed"}),
            f"/monitoring/maintenance/{window.pk}/delete/",
        ],
    )
    window.refresh_from_db()
    assert window.name == "Patch night"


def test_anonymous_people_are_sent_to_sign_in(client):
    window = MaintenanceWindowFactory(cis=[CIFactory()])
    assert_sends_to_sign_in(
        client, "/monitoring/maintenance/", f"/monitoring/maintenance/{window.pk}/", "/monitoring/maintenance/new/"
    )
