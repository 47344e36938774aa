"""The change calendar (month and week views, blackout windows shaded, previous and next), the
private iCalendar feed served by its token without a session, and the CAB page."""

import datetime as dt

import pytest
from django.utils import timezone
from icalendar import Calendar

from changes.choices import ChangeState, ChangeType
from changes.models import CalendarFeed
from tests.changes.journeys import Cast, change_in, ready_change
from tests.factories import BlackoutWindowFactory

pytestmark = pytest.mark.django_db
S, T = ChangeState, ChangeType


@pytest.fixture
def cast(alice, network_team, nina, erin, ecab):
    return Cast(requester=alice, team=network_team, approvers={T.NORMAL: nina, T.EMERGENCY: erin})


def at(day, hour):
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def day_cell(response, day):
    """The calendar's cell of ``day`` (the ``Day`` the page drew)."""
    return next(d for d in response.context["days"] if d.date == day)


def test_the_month_shows_each_change_on_the_days_it_spans_and_shades_blackouts(client, alice, cast):
    first = (timezone.localdate() + dt.timedelta(days=40)).replace(day=10)
    overnight = {"planned_start": at(first, 22), "planned_end": at(first + dt.timedelta(days=1), 2)}
    change = ready_change(cast, title="Core switch upgrade", **overnight)
    freeze = BlackoutWindowFactory(
        name="Audit freeze", start=at(first + dt.timedelta(days=5), 0), end=at(first + dt.timedelta(days=7), 0)
    )
    client.force_login(alice)
    response = client.get("/changes/calendar/", {"date": first.isoformat()})
    assert response.status_code == 200 and response.context["view"] == "month"
    assert response.context["heading"] == first.strftime("%B %Y")
    assert [c.number for c in day_cell(response, first).changes] == [change.number]
    assert [c.number for c in day_cell(response, first + dt.timedelta(days=1)).changes] == [change.number]
    assert day_cell(response, first + dt.timedelta(days=2)).changes == []
    shaded = [d.date for d in response.context["days"] if d.blackouts]
    assert shaded == [first + dt.timedelta(days=5), first + dt.timedelta(days=6)]
    body = response.content.decode()
    assert "cal-state-new" in body and "cal-risk-low" in body and "Audit freeze" in body
    assert freeze.get_absolute_url() in body


def test_the_week_view_moves_by_seven_days_and_lists_times(client, alice, cast):
    day = timezone.localdate() + dt.timedelta(days=20)
    ready_change(cast, title="Firewall rules", planned_start=at(day, 9), planned_end=at(day, 11))
    client.force_login(alice)
    response = client.get("/changes/calendar/", {"view": "week", "date": day.isoformat()})
    monday = day - dt.timedelta(days=day.weekday())
    assert [d.date for d in response.context["days"]] == [monday + dt.timedelta(days=i) for i in range(7)]
    assert f"date={(monday + dt.timedelta(days=7)).isoformat()}" in response.context["next_url"]
    assert "09:00–11:00" in response.content.decode()


def test_a_canceled_change_is_left_off(client, alice, cast):
    day = timezone.localdate() + dt.timedelta(days=10)
    when = {"planned_start": at(day, 9), "planned_end": at(day, 10)}
    live = ready_change(cast, title="Still on", **when)
    canceled = change_in(S.CANCELED, cast, title="Called off", **when)
    client.force_login(alice)
    response = client.get("/changes/calendar/", {"date": day.isoformat()})
    assert [c.number for c in day_cell(response, day).changes] == [live.number]
    assert canceled.number not in response.content.decode()


def test_a_bad_date_shows_today_and_says_why(client, alice):
    client.force_login(alice)
    response = client.get("/changes/calendar/", {"date": "2025-13-45"})
    assert response.status_code == 200 and response.context["day"] == timezone.localdate()
    assert "“2025-13-45” is not a date (YYYY-MM-DD): showing today." in [str(m) for m in response.context["messages"]]


def test_the_calendar_is_for_people_who_see_changes(client, victor, alice):
    assert client.get("/changes/calendar/")["Location"].startswith("/login/")
    client.force_login(victor)
    assert client.get("/changes/calendar/").status_code == 200


def test_the_feed_is_served_by_its_token_without_a_session(client, alice, cast):
    change = ready_change(cast, title="Storage firmware")
    client.force_login(alice)
    feed_url = client.get("/changes/calendar/").context["feed_url"]
    token = CalendarFeed.objects.get(user=alice).token
    assert feed_url.endswith(f"/changes/calendar/feed/{token}.ics")
    client.logout()
    response = client.get(f"/changes/calendar/feed/{token}.ics")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/calendar")
    summaries = [str(event["summary"]) for event in Calendar.from_ical(response.content).walk("VEVENT")]
    assert f"{change.number} Storage firmware" in summaries
    assert CalendarFeed.objects.get(user=alice).last_fetched_at is not None
    assert client.get("/changes/calendar/feed/not-a-token.ics").status_code == 404


def test_regenerating_the_feed_retires_the_old_address(client, alice):
    client.force_login(alice)
    client.get("/changes/calendar/")
    old = CalendarFeed.objects.get(user=alice).token
    response = client.post("/changes/calendar/feed/regenerate/")
    assert response["Location"] == "/changes/calendar/#subscribe"
    new = CalendarFeed.objects.get(user=alice).token
    assert new != old
    client.logout()
    assert client.get(f"/changes/calendar/feed/{old}.ics").status_code == 404
    assert client.get(f"/changes/calendar/feed/{new}.ics").status_code == 200


def test_a_deactivated_users_feed_stops(client, alice):
    feed = CalendarFeed.objects.create(user=alice)
    alice.is_active = False
    alice.save()
    assert client.get(f"/changes/calendar/feed/{feed.token}.ics").status_code == 404


def test_the_cab_page_lists_what_awaits_the_cab_the_reviews_and_the_forward_schedule(client, victor, cast):
    emergency = change_in(S.AUTHORIZE, cast, T.EMERGENCY, title="Hotfix the payment gateway")
    reviewing = change_in(S.REVIEW, cast, title="Replaced the SAN controller")
    scheduled = change_in(S.SCHEDULED, cast, title="Patch the hypervisors")
    waiting_technical = change_in(S.AUTHORIZE, cast, title="Low-risk tweak")  # technical review, not CAB
    client.force_login(victor)
    response = client.get("/changes/cab/")
    assert response.status_code == 200
    assert [c.number for c in response.context["awaiting"]] == [emergency.number]
    assert response.context["awaiting"][0].cab_stage.name == "Emergency CAB"
    assert [c.number for c in response.context["reviews"]] == [reviewing.number]
    assert scheduled.number in [c.number for c in response.context["forward_schedule"]]
    body = response.content.decode()
    assert (
        "Next meeting:" in body
        and waiting_technical.number not in body.split('id="cab-awaiting"')[1].split("</section>")[0]
    )
