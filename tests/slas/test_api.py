"""``/api/v1/sla/calendars/`` and ``/api/v1/sla/policies/``: everyone reads, managers write; nested
hours, holidays and targets replace what was there; bad input is a 400 naming the field."""

import itertools

import pytest
from django.urls import reverse

from slas.api.views import CalendarViewSet, PolicyViewSet
from slas.models import BusinessCalendar, Holiday, SLAClock, SLAPolicy, SLATarget, WorkingHours
from slas.services import sync_clocks
from tests.api_testing import APIEndpointTests
from tests.factories import CIFactory, IncidentFactory, TeamFactory, business_calendar, ci_class, sla_policy
from tests.slas.conftest import paris, subject

_names = itertools.count(1)


def new_calendar():
    return business_calendar(name=f"Calendar {next(_names)}")


def new_policy():
    return sla_policy(name=f"Policy {next(_names)}", calendar=new_calendar())


class TestCalendarAPI(APIEndpointTests):
    viewset = CalendarViewSet
    url_name = "api:sla-calendar"
    make_object = staticmethod(new_calendar)
    create_data = {
        "name": "Support hours",
        "time_zone": "America/New_York",
        "hours": [{"weekday": 0, "start": "08:00", "end": "18:00"}, {"weekday": 5, "start": "10:00", "end": "24:00"}],
        "holidays": [{"date": "2026-12-25", "name": "Christmas Day"}],
    }
    update_data = {"description": "The desk's weekday hours."}
    invalid_data = {"time_zone": "Mars/Olympus_Mons"}


class TestPolicyAPI(APIEndpointTests):
    viewset = PolicyViewSet
    url_name = "api:sla-policy"
    make_object = staticmethod(new_policy)
    max_list_queries = 10

    @staticmethod
    def create_data():
        return {
            "name": f"Gold {next(_names)}",
            "calendar": new_calendar().pk,
            "priorities": [2, 1],
            "targets": [
                {"metric": "response", "priority": 1, "minutes": 15},
                {"metric": "resolution", "priority": 1, "minutes": 240},
            ],
        }

    update_data = {"description": "Gold customers."}
    invalid_data = {"warning_thresholds": [150]}


def detail(name, obj):
    return reverse(f"api:{name}-detail", args=[obj.pk])


# --- calendars -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_calendar_is_created_with_its_hours_and_holidays_and_reads_back_the_same(maria_api):
    response = maria_api.post(reverse("api:sla-calendar-list"), TestCalendarAPI.create_data, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["hours"] == [
        {"weekday": 0, "start": "08:00", "end": "18:00"},
        {"weekday": 5, "start": "10:00", "end": "24:00"},
    ]
    assert body["holidays"] == [{"date": "2026-12-25", "name": "Christmas Day"}]
    calendar = BusinessCalendar.objects.get(pk=body["id"])
    assert sorted((h.weekday, h.start.hour, h.end.hour) for h in calendar.hours.all()) == [(0, 8, 18), (5, 10, 0)]


@pytest.mark.django_db
def test_writing_hours_replaces_them_and_keeps_the_rows_that_stay(maria_api):
    calendar = business_calendar()  # Mon–Fri 09:00–17:00
    monday = WorkingHours.objects.get(calendar=calendar, weekday=0)
    etag = maria_api.get(detail("sla-calendar", calendar))["ETag"]
    response = maria_api.patch(
        detail("sla-calendar", calendar),
        {"hours": [{"weekday": 0, "start": "09:00", "end": "17:00"}, {"weekday": 6, "start": "00:00", "end": "00:00"}]},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response["ETag"] != etag  # an hours-only change is a change of the calendar
    assert [(h["weekday"], h["end"]) for h in response.json()["hours"]] == [(0, "17:00"), (6, "24:00")]
    assert WorkingHours.objects.filter(pk=monday.pk).exists()  # the unchanged row was kept
    assert WorkingHours.objects.filter(calendar=calendar).count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (
            {
                "hours": [
                    {"weekday": 0, "start": "08:00", "end": "12:00"},
                    {"weekday": 0, "start": "11:00", "end": "18:00"},
                ]
            },
            "hours",
        ),
        ({"hours": [{"weekday": 0, "start": "18:00", "end": "08:00"}]}, "hours"),
        ({"hours": [{"weekday": 7, "start": "08:00", "end": "18:00"}]}, "hours"),
        ({"hours": [{"weekday": 0, "start": "8 o'clock", "end": "18:00"}]}, "hours"),
        ({"holidays": [{"date": "2026-12-25", "name": "A"}, {"date": "2026-12-25", "name": "B"}]}, "holidays"),
        ({"holidays": [{"date": "2026-13-01", "name": "Nowhen"}]}, "holidays"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_calendar_input_is_a_400_naming_the_field_and_changes_nothing(maria_api, payload, field):
    calendar = business_calendar()
    before = sorted(WorkingHours.objects.filter(calendar=calendar).values_list("weekday", "start", "end"))
    response = maria_api.patch(detail("sla-calendar", calendar), payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert sorted(WorkingHours.objects.filter(calendar=calendar).values_list("weekday", "start", "end")) == before
    assert not Holiday.objects.exists()


@pytest.mark.django_db
def test_a_calendar_in_use_cannot_be_deleted(maria_api):
    policy = new_policy()
    response = maria_api.delete(detail("sla-calendar", policy.calendar))
    assert response.status_code == 409
    assert BusinessCalendar.objects.filter(pk=policy.calendar_id).exists()


@pytest.mark.django_db
def test_a_manager_prefills_a_countrys_public_holidays(maria_api):
    calendar = business_calendar()
    url = reverse("api:sla-calendar-prefill-holidays", args=[calendar.pk])
    Holiday.objects.create(calendar=calendar, date="2026-07-14", name="Fête nationale")
    response = maria_api.post(url, {"country": "fr", "year": 2026, "subdivision": None}, format="json")
    assert response.status_code == 201, response.content
    created = response.json()["created"]
    assert {"date": "2026-12-25", "name": "Christmas Day"} in created
    assert response.json()["skipped"] == 1  # 14 July was there already and is kept as it was
    assert Holiday.objects.get(calendar=calendar, date="2026-07-14").name == "Fête nationale"
    assert Holiday.objects.filter(calendar=calendar, date__year=2026).count() == 11

    again = maria_api.post(url, {"country": "FR", "year": 2026}, format="json")
    assert again.status_code == 200 and again.json() == {"created": [], "skipped": 11}

    regional = maria_api.post(url, {"country": "US", "year": 2027, "subdivision": "ca"}, format="json")
    assert regional.status_code == 201
    assert {"date": "2027-03-31", "name": "Cesar Chavez Day"} in regional.json()["created"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"country": "XX", "year": 2026}, "country"),
        ({"country": "FR", "year": 1200}, "year"),
        ({"country": "FR"}, "year"),
        ({"country": "FR", "year": 2026, "subdivision": "ZZ"}, "subdivision"),
    ],
)
def test_a_bad_prefill_is_a_400_naming_the_field(maria_api, payload, field):
    calendar = business_calendar()
    response = maria_api.post(reverse("api:sla-calendar-prefill-holidays", args=[calendar.pk]), payload, format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert not Holiday.objects.exists()


@pytest.mark.django_db
def test_only_managers_prefill_holidays(alice_api, victor_api, make_api_client, maria):
    calendar = business_calendar()
    url = reverse("api:sla-calendar-prefill-holidays", args=[calendar.pk])
    for client in (alice_api, victor_api, make_api_client(maria, write=False)):
        assert client.post(url, {"country": "FR", "year": 2026}, format="json").status_code == 403
    assert not Holiday.objects.exists()


# --- policies --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_policy_is_created_with_its_criteria_and_targets(maria_api):
    calendar = business_calendar()
    team = TeamFactory(name="Network")
    shop = CIFactory(name="Online shop", ci_class=ci_class("business-service"))
    payload = {
        "name": "Shop",
        "calendar": calendar.pk,
        "order": 5,
        "priorities": [3, 1],
        "teams": [team.pk],
        "ci_classes": [ci_class("server").pk],
        "business_services": [shop.pk],
        "pause_states": ["on_hold"],
        "warning_thresholds": [90, 50],
        "targets": [
            {"metric": "response", "priority": 1, "minutes": 10},
            {"metric": "resolution", "priority": 1, "minutes": 120},
        ],
    }
    response = maria_api.post(reverse("api:sla-policy-list"), payload, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["priorities"] == [1, 3] and body["warning_thresholds"] == [50, 90]
    assert body["teams"] == [team.pk] and body["business_services"] == [shop.pk]
    assert body["calendar_name"] == "Office hours"
    assert sorted((t["metric"], t["minutes"]) for t in body["targets"]) == [("resolution", 120), ("response", 10)]


@pytest.mark.django_db
def test_writing_targets_replaces_them(maria_api):
    policy = sla_policy()
    response = maria_api.patch(
        detail("sla-policy", policy), {"targets": [{"metric": "response", "priority": 1, "minutes": 5}]}, format="json"
    )
    assert response.status_code == 200, response.content
    assert list(SLATarget.objects.filter(policy=policy).values_list("metric", "priority", "minutes")) == [
        ("response", 1, 5)
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"targets": [{"metric": "response", "priority": 1, "minutes": 5}] * 2}, "targets"),
        ({"targets": [{"metric": "response", "priority": 6, "minutes": 5}]}, "targets"),
        ({"targets": [{"metric": "response", "priority": 1, "minutes": 0}]}, "targets"),
        ({"targets": [{"metric": "reaction", "priority": 1, "minutes": 5}]}, "targets"),
        ({"priorities": [0]}, "priorities"),
        ({"priorities": [1, 1]}, "priorities"),
        ({"pause_states": ["napping"]}, "pause_states"),
        ({"warning_thresholds": [75, 75]}, "warning_thresholds"),
        ({"calendar": 999999}, "calendar"),
    ],
)
def test_bad_policy_input_is_a_400_naming_the_field_and_changes_nothing(maria_api, payload, field):
    policy = sla_policy()
    targets = sorted(SLATarget.objects.filter(policy=policy).values_list("metric", "priority", "minutes"))
    response = maria_api.patch(detail("sla-policy", policy), payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert sorted(SLATarget.objects.filter(policy=policy).values_list("metric", "priority", "minutes")) == targets
    policy.refresh_from_db()
    assert policy.priorities == [] and policy.pause_states == ["on_hold"]


@pytest.mark.django_db
def test_only_business_services_can_be_criteria(maria_api):
    policy = sla_policy()
    server = CIFactory(name="db-01", ci_class=ci_class("server"))
    response = maria_api.patch(detail("sla-policy", policy), {"business_services": [server.pk]}, format="json")
    assert response.status_code == 400 and "business_services" in response.json()


@pytest.mark.django_db
def test_deleting_a_policy_leaves_its_clocks_running_on_their_own_figures(maria_api):
    policy = sla_policy()
    incident = IncidentFactory()
    sync_clocks(incident, subject(), at=paris(2026, 7, 6, 9, 0))
    assert maria_api.delete(detail("sla-policy", policy)).status_code == 204
    clocks = SLAClock.objects.filter(object_id=incident.pk)
    assert clocks.count() == 2 and all(c.policy_id is None and c.state == "running" for c in clocks)
    assert not SLAPolicy.objects.filter(pk=policy.pk).exists()


@pytest.mark.django_db
def test_the_policy_list_filters_by_priority_team_and_calendar(alice_api):
    calendar = business_calendar()
    team = TeamFactory(name="Network")
    urgent = sla_policy(name="Urgent", calendar=calendar, priorities=[1])
    general = sla_policy(name="General", calendar=calendar)
    general.teams.add(team)
    url = reverse("api:sla-policy-list")

    def names(**params):
        return sorted(p["name"] for p in alice_api.get(url, params).json()["results"])

    assert names(priority=1) == ["General", "Urgent"]
    assert names(priority=3) == ["General"]
    assert names(team=team.pk) == ["General"]
    assert names(calendar=calendar.pk) == ["General", "Urgent"]
    assert names(q="urg") == ["Urgent"]
    assert urgent.pk
