"""The SLA pages: calendars (hours, holidays, pre-fill) and policies (criteria, target grid). Every
role reads them; only managers change them."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from itom.models import ObjectChange
from slas.models import BusinessCalendar, Holiday, SLAPolicy, SLATarget, WorkingHours
from tests.factories import TeamFactory, business_calendar, sla_policy

pytestmark = pytest.mark.django_db


def hours_data(rows, initial=0, prefix="hours"):
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for index, row in enumerate(rows):
        for key, value in row.items():
            data[f"{prefix}-{index}-{key}"] = value
    return data


def calendar_data(name="Support hours", rows=(), initial=0, **fields):
    data = {"name": name, "description": "", "time_zone": "Europe/Paris", **fields}
    data.update(hours_data(list(rows), initial=initial))
    return data


def policy_data(calendar, name="Gold", targets=None, **fields):
    data = {
        "name": name,
        "description": "",
        "active": "on",
        "order": "10",
        "calendar": str(calendar.pk),
        "pause_states": ["on_hold"],
        "warning_thresholds": "75, 90",
    }
    for (metric, priority), minutes in (targets if targets is not None else {("response", 1): 15}).items():
        data[f"target_{metric}_{priority}"] = str(minutes)
    data.update(fields)
    return data


def test_every_role_reads_the_sla_pages_but_only_managers_change_them(client, alice, victor, maria):
    policy = sla_policy()
    calendar = policy.calendar
    for user, is_manager in ((alice, False), (victor, False), (maria, True)):
        client.force_login(user)
        for url in (
            "/sla/calendars/",
            f"/sla/calendars/{calendar.pk}/",
            f"/sla/calendars/{calendar.pk}/history/",
            "/sla/policies/",
            f"/sla/policies/{policy.pk}/",
            f"/sla/policies/{policy.pk}/history/",
        ):
            assert client.get(url).status_code == 200, (user, url)
        expected = 200 if is_manager else 403
        for url in (
            "/sla/calendars/add/",
            f"/sla/calendars/{calendar.pk}/edit/",
            f"/sla/calendars/{calendar.pk}/delete/",
            "/sla/policies/add/",
            f"/sla/policies/{policy.pk}/edit/",
            f"/sla/policies/{policy.pk}/delete/",
        ):
            assert client.get(url).status_code == expected, (user, url)
        assert ("Add business calendar" in client.get("/sla/calendars/").content.decode()) is is_manager
        detail = client.get(f"/sla/calendars/{calendar.pk}/").content.decode()
        assert ("Pre-fill public holidays" in detail) is is_manager


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/sla/policies/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_an_agent_cannot_change_holidays_by_posting(alice_client):
    calendar = business_calendar()
    assert (
        alice_client.post(
            f"/sla/calendars/{calendar.pk}/holidays/add/", {"date": "2026-12-25", "name": "X"}
        ).status_code
        == 403
    )
    assert (
        alice_client.post(
            f"/sla/calendars/{calendar.pk}/holidays/prefill/", {"country": "FR", "year": "2026"}
        ).status_code
        == 403
    )
    assert alice_client.post("/sla/calendars/add/", calendar_data()).status_code == 403
    assert not Holiday.objects.exists() and BusinessCalendar.objects.count() == 1


# --- calendars -------------------------------------------------------------------------------


def test_the_calendar_list_shows_hours_holidays_and_policies(maria_client):
    policy = sla_policy()
    Holiday.objects.create(calendar=policy.calendar, date=dt.date(2099, 1, 1), name="Far future")
    body = maria_client.get("/sla/calendars/").content.decode()
    assert "Office hours" in body and "Europe/Paris" in body
    assert "Mon 09:00–17:00" in body and "Sat" not in body.split("Office hours", 1)[1].split("</tr>", 1)[0]


def test_a_manager_adds_a_calendar_with_its_hours(maria_client):
    rows = [{"weekday": "0", "start": "08:00", "end": "12:00"}, {"weekday": "0", "start": "13:00", "end": "24:00"}]
    response = maria_client.post("/sla/calendars/add/", calendar_data(rows=rows))
    calendar = BusinessCalendar.objects.get(name="Support hours")
    assert response.status_code == 302 and response["Location"] == f"/sla/calendars/{calendar.pk}/"
    assert sorted((h.start.hour, h.end.hour) for h in calendar.hours.all()) == [(8, 12), (13, 0)]
    page = maria_client.get(response["Location"]).content.decode()
    assert "08:00–12:00, 13:00–24:00" in page
    assert ObjectChange.objects.filter(object_repr="Support hours", action="create").exists()


def test_overlapping_hours_are_refused_with_the_reason(maria_client):
    rows = [{"weekday": "0", "start": "08:00", "end": "12:00"}, {"weekday": "0", "start": "11:00", "end": "18:00"}]
    response = maria_client.post("/sla/calendars/add/", calendar_data(rows=rows))
    assert response.status_code == 200
    assert "Overlaps another interval of the same day." in response.content.decode()
    assert not BusinessCalendar.objects.exists()


def test_a_manager_edits_the_hours_of_a_calendar(maria_client):
    calendar = business_calendar(days=[0])
    monday = calendar.hours.get()
    rows = [
        {
            "id": str(monday.pk),
            "calendar": str(calendar.pk),
            "weekday": "0",
            "start": "09:00",
            "end": "17:00",
            "DELETE": "on",
        },
        {"weekday": "1", "start": "07:30", "end": "15:30"},
    ]
    response = maria_client.post(f"/sla/calendars/{calendar.pk}/edit/", calendar_data("Office hours", rows, initial=1))
    assert response.status_code == 302, response.content.decode()[:2000]
    assert list(WorkingHours.objects.filter(calendar=calendar).values_list("weekday", "start")) == [(1, dt.time(7, 30))]


def test_a_manager_adds_and_removes_a_holiday(maria_client):
    calendar = business_calendar()
    response = maria_client.post(
        f"/sla/calendars/{calendar.pk}/holidays/add/", {"date": "2030-05-01", "name": "Labour Day"}
    )
    assert response.status_code == 302 and response["Location"].endswith("?year=2030#holidays")
    holiday = Holiday.objects.get(calendar=calendar)
    page = maria_client.get(response["Location"]).content.decode()
    assert "Labour Day" in page and "Added holiday 01 May 2030" in page

    again = maria_client.post(f"/sla/calendars/{calendar.pk}/holidays/add/", {"date": "2030-05-01", "name": "Twice"})
    assert again.status_code == 400
    assert "already exists" in again.content.decode()
    assert Holiday.objects.count() == 1

    removed = maria_client.post(f"/sla/calendars/{calendar.pk}/holidays/{holiday.pk}/delete/")
    assert removed.status_code == 302 and not Holiday.objects.exists()


def test_a_manager_prefills_public_holidays_from_the_page(maria_client):
    calendar = business_calendar()
    response = maria_client.post(
        f"/sla/calendars/{calendar.pk}/holidays/prefill/", {"country": "FR", "year": "2027"}, follow=True
    )
    body = response.content.decode()
    assert "Added 11 public holidays of France for 2027." in body
    assert "Bastille Day" in body or "National Day" in body
    assert Holiday.objects.filter(calendar=calendar, date__year=2027).count() == 11

    bad = maria_client.post(
        f"/sla/calendars/{calendar.pk}/holidays/prefill/", {"country": "US", "year": "2027", "subdivision": "ZZ"}
    )
    assert bad.status_code == 400
    assert "has no subdivision “ZZ”" in bad.content.decode()


def test_a_calendar_in_use_is_not_deleted_and_the_page_says_why(maria_client):
    policy = sla_policy()
    response = maria_client.post(f"/sla/calendars/{policy.calendar_id}/delete/", follow=True)
    assert "is still referred to by other objects" in response.content.decode()
    assert BusinessCalendar.objects.filter(pk=policy.calendar_id).exists()
    unused = business_calendar(name="Unused")
    assert maria_client.post(f"/sla/calendars/{unused.pk}/delete/")["Location"] == "/sla/calendars/"


# --- policies --------------------------------------------------------------------------------


def test_a_manager_adds_a_policy_with_its_targets(maria_client):
    calendar = business_calendar()
    team = TeamFactory(name="Network")
    data = policy_data(
        calendar,
        targets={("response", 1): 15, ("resolution", 1): 240, ("response", 2): 30},
        priorities=["1", "2"],
        teams=[str(team.pk)],
    )
    response = maria_client.post("/sla/policies/add/", data)
    policy = SLAPolicy.objects.get(name="Gold")
    assert response.status_code == 302 and response["Location"] == f"/sla/policies/{policy.pk}/"
    assert policy.priorities == [1, 2] and list(policy.teams.all()) == [team]
    assert policy.warning_thresholds == [75, 90]
    assert sorted(policy.targets.values_list("metric", "priority", "minutes")) == [
        ("resolution", 1, 240),
        ("response", 1, 15),
        ("response", 2, 30),
    ]
    page = maria_client.get(response["Location"]).content.decode()
    assert "4 h" in page and "15 min" in page and "Network" in page


def test_a_policy_needs_a_target_and_sane_thresholds(maria_client):
    calendar = business_calendar()
    response = maria_client.post("/sla/policies/add/", policy_data(calendar, targets={}))
    assert "Give at least one target" in response.content.decode()
    response = maria_client.post("/sla/policies/add/", policy_data(calendar, warning_thresholds="75, 120"))
    assert "A list of percentages from 1 to 99" in response.content.decode()
    assert not SLAPolicy.objects.exists()


def test_editing_a_policy_shows_its_targets_and_replaces_them(maria_client):
    policy = sla_policy()
    form = maria_client.get(f"/sla/policies/{policy.pk}/edit/").content.decode()
    assert 'name="target_response_1" value="15"' in form
    response = maria_client.post(
        f"/sla/policies/{policy.pk}/edit/", policy_data(policy.calendar, name="Standard", targets={("response", 3): 45})
    )
    assert response.status_code == 302
    assert list(SLATarget.objects.filter(policy=policy).values_list("metric", "priority", "minutes")) == [
        ("response", 3, 45)
    ]


def test_list_pages_cost_the_same_queries_for_few_or_many_rows(maria_client):
    def count(url):
        with CaptureQueriesContext(connection) as context:
            assert maria_client.get(url).status_code == 200
        return len(context.captured_queries)

    sla_policy(name="First", calendar=business_calendar(name="Cal 0"))
    few = (count("/sla/policies/"), count("/sla/calendars/"))
    for n in range(1, 12):
        sla_policy(name=f"Policy {n}", calendar=business_calendar(name=f"Cal {n}"))
    many = (count("/sla/policies/"), count("/sla/calendars/"))
    assert few == many
    assert max(many) <= 10


def test_an_interval_edited_in_place_keeps_its_row_and_its_history(maria_client):
    calendar = business_calendar(days=[0])
    monday = calendar.hours.get()
    row = {"id": str(monday.pk), "calendar": str(calendar.pk), "weekday": "0", "start": "08:00", "end": "17:00"}
    response = maria_client.post(f"/sla/calendars/{calendar.pk}/edit/", calendar_data("Office hours", [row], initial=1))
    assert response.status_code == 302
    assert list(WorkingHours.objects.filter(calendar=calendar).values_list("pk", "start")) == [(monday.pk, dt.time(8))]
    change = ObjectChange.objects.filter(object_id=str(monday.pk), action="update").get()
    assert change.diff["start"] == ("09:00:00", "08:00:00")
