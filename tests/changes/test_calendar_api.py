"""``/api/v1/changes/calendar/``, ``kpis/``, ``cab/`` and ``feed/``: the calendar of a period
(start and end required, ISO dates or date-times, end after start, at most 400 days — else a 400
naming the parameter), the KPIs of a period, the next CAB meeting's agenda and the caller's
iCalendar feed URL."""

from datetime import timedelta

import pytest
from django.utils import timezone

from changes.models import CalendarFeed
from changes.services import approvals
from changes.services import changes as change_services
from tests.changes.api_helpers import CHANGES, ready_change, submitted_change
from tests.conftest import token_client
from tests.factories import BlackoutWindowFactory, new_change

pytestmark = pytest.mark.django_db

CALENDAR = f"{CHANGES}calendar/"


def test_the_calendar_lists_changes_and_blackouts_overlapping_the_period(alice, victor, network_team):
    booked = ready_change(alice, network_team, title="Core switch swap")
    canceled = ready_change(alice, network_team, title="Dropped")
    change_services.transition(canceled, "canceled", user=alice, note="Not needed.")
    far = booked.planned_start + timedelta(days=60)
    ready_change(alice, network_team, title="Later", planned_start=far, planned_end=far + timedelta(hours=1))
    freeze = BlackoutWindowFactory(name="Freeze", start=booked.planned_start - timedelta(days=1))
    day = timezone.localdate(booked.planned_start)
    response = token_client(victor).get(CALENDAR, {"start": day.isoformat(), "end": day.isoformat()})
    assert response.status_code == 200, response.content
    body = response.json()
    assert [c["title"] for c in body["changes"]] == ["Core switch swap"]
    entry = body["changes"][0]
    assert (entry["state"], entry["risk"], entry["assignment_team"]["name"]) == ("new", "low", "Network")
    assert [b["name"] for b in body["blackouts"]] == [freeze.name]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"end": "2030-01-31"}, "start"),
        ({"start": "2030-01-01"}, "end"),
        ({"start": "2030-01-01", "end": "31/01/2030"}, "end"),
        ({"start": "2030-02-30", "end": "2030-03-01"}, "start"),
        ({"start": "2030-01-31", "end": "2030-01-01"}, "end"),
        ({"start": "2030-01-01", "end": "2031-06-01"}, "end"),
    ],
)
def test_a_bad_period_is_a_400_naming_the_parameter(alice, params, field):
    response = token_client(alice).get(CALENDAR, params)
    assert response.status_code == 400
    assert field in response.json()


def test_date_times_with_an_offset_are_read_even_when_the_plus_was_not_escaped(alice, network_team):
    change = ready_change(alice, network_team)
    start = (change.planned_start - timedelta(hours=1)).astimezone(timezone.get_fixed_timezone(120))
    end = change.planned_end + timedelta(hours=1)
    query = f"?start={start.isoformat()}&end={end.strftime('%Y-%m-%dT%H:%M:%SZ')}"  # "+02:00" arrives as " 02:00"
    response = token_client(alice).get(CALENDAR + query)
    assert response.status_code == 200, response.content
    assert [c["id"] for c in response.json()["changes"]] == [change.pk]


def test_the_kpis_default_to_the_last_90_days(alice, maria):
    change = new_change(alice, type="emergency")
    change_services.transition(change, "canceled", user=alice, note="Duplicate.")
    body = token_client(maria).get(f"{CHANGES}kpis/").json()
    assert (body["created"], body["emergency"], body["emergency_share"]) == (1, 1, 1.0)
    assert (body["closed"], body["success_rate"]) == (0, None)
    assert body["approval_lead_time_hours"] == {"median": None, "mean": None, "count": 0}
    assert timezone.now() - timedelta(days=91) < timezone.datetime.fromisoformat(body["start"])
    period = token_client(maria).get(f"{CHANGES}kpis/", {"start": "2001-01-01", "end": "2001-12-31"}).json()
    assert period["created"] == 0
    assert token_client(maria).get(f"{CHANGES}kpis/", {"start": "yesterday"}).status_code == 400


def test_the_cab_agenda_lists_what_awaits_the_cab(alice, maria, nina, cab, network_team):
    change = ready_change(alice, network_team, title="Move the data centre uplink")
    change_services.override_risk(change, user=maria, level="moderate", reason="Shared uplink.")
    change_services.transition(change, "assess", user=alice)
    change = change_services.transition(change, "authorize", user=alice)
    approvals.decide(change, user=nina, decision="approved")
    other = submitted_change(alice, network_team, title="Only a technical review")
    body = token_client(alice).get(f"{CHANGES}cab/").json()
    assert [c["title"] for c in body["awaiting"]] == ["Move the data centre uplink"]
    assert other.title not in [c["title"] for c in body["awaiting"]]
    assert body["meeting_at"] < body["following_meeting_at"]


def test_the_feed_url_is_the_callers_and_regenerating_it_changes_it(alice, bob):
    first = token_client(alice).get(f"{CHANGES}feed/").json()["url"]
    assert first.endswith(".ics")
    assert token_client(alice).get(f"{CHANGES}feed/").json()["url"] == first
    assert token_client(bob).get(f"{CHANGES}feed/").json()["url"] != first
    regenerated = token_client(alice).post(f"{CHANGES}feed/").json()["url"]
    assert regenerated != first
    assert CalendarFeed.objects.get(user=alice).token in regenerated
    assert token_client(alice, write=False).post(f"{CHANGES}feed/").status_code == 403


def test_anonymous_callers_get_no_calendar(anon):
    assert anon.get(CALENDAR, {"start": "2030-01-01", "end": "2030-01-31"}).status_code in (401, 403)
    assert anon.get(f"{CHANGES}feed/").status_code in (401, 403)
