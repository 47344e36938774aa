"""changes.ics.calendar_feed: the change calendar as iCalendar, parsed back with icalendar."""

from datetime import timedelta

import pytest
from django.http import HttpResponse
from django.urls import include, path
from django.utils import timezone
from icalendar import Calendar

from changes.ics import calendar_feed
from tests.factories import BlackoutWindowFactory, ChangeFactory, CIFactory, ci_class

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)

# The change pages' URL names, served by this module in the test that needs them (the real pages
# live in changes.urls).
_pages = [
    path("<int:pk>/", HttpResponse, name="change_detail"),
    path("blackouts/<int:pk>/", HttpResponse, name="blackout_detail"),
]
urlpatterns = [path("changes/", include((_pages, "changes")))]


def at(days, hours=0):
    return NOW + timedelta(days=days, hours=hours)


def change_at(days, state="scheduled", hours=2, **fields):
    return ChangeFactory(state=state, planned_start=at(days), planned_end=at(days, hours), **fields)


def events(feed):
    calendar = Calendar.from_ical(feed)
    return {str(event["UID"]): event for event in calendar.walk("VEVENT")}


def test_the_feed_is_a_calendar_a_mail_client_can_subscribe_to(alice):
    calendar = Calendar.from_ical(calendar_feed(alice, now=NOW))

    assert str(calendar["VERSION"]) == "2.0"
    assert "ITOM" in str(calendar["PRODID"])
    assert str(calendar["X-WR-CALNAME"]) == "Change calendar"
    assert str(calendar["X-PUBLISHED-TTL"]) == "PT1H"
    assert calendar.walk("VEVENT") == []


@pytest.mark.urls(__name__)
def test_each_change_is_an_event_with_its_number_window_and_details(alice, network_team, settings):
    settings.PORTAL_URL = "https://itom.example.com"
    change = change_at(
        3,
        title="Upgrade the core switch",
        type="normal",
        risk_level="high",
        assignee=alice,
        assignment_team=network_team,
    )
    change.affected_cis.set([CIFactory(name="core-sw-01", ci_class=ci_class("switch")), CIFactory(name="db01")])

    event = events(calendar_feed(alice, now=NOW))[f"{change.number}@itom"]

    assert str(event["SUMMARY"]) == f"{change.number} Upgrade the core switch"
    assert event.decoded("DTSTART") == change.planned_start
    assert event.decoded("DTEND") == change.planned_end
    assert str(event["STATUS"]) == "CONFIRMED"
    description = str(event["DESCRIPTION"])
    for line in ("Normal change", "State: Scheduled", "Risk: High", "Assignee: alice", "Assignment team: Network"):
        assert line in description
    assert "Affected CIs: core-sw-01, db01" in description
    assert str(event["URL"]) == f"https://itom.example.com/changes/{change.pk}/"


@pytest.mark.urls(__name__)
def test_an_event_has_no_url_when_the_portals_address_is_not_configured(alice, settings):
    settings.PORTAL_URL = ""
    change = change_at(1)

    assert "URL" not in events(calendar_feed(alice, now=NOW))[f"{change.number}@itom"]


def test_a_managers_override_is_the_risk_shown(alice):
    change = change_at(1, risk_level="low", risk_override="very_high", risk_override_reason="Peak season.")

    assert "Risk: Very high" in str(events(calendar_feed(alice, now=NOW))[f"{change.number}@itom"]["DESCRIPTION"])


@pytest.mark.parametrize(
    ("state", "status"),
    [
        ("new", "TENTATIVE"),
        ("assess", "TENTATIVE"),
        ("authorize", "TENTATIVE"),
        ("scheduled", "CONFIRMED"),
        ("implement", "CONFIRMED"),
        ("review", "CONFIRMED"),
        ("closed", "CONFIRMED"),
        ("canceled", "CANCELLED"),
    ],
)
def test_an_events_status_says_whether_the_change_is_approved_or_called_off(alice, state, status):
    change = change_at(1, state=state)

    assert str(events(calendar_feed(alice, now=NOW))[f"{change.number}@itom"]["STATUS"]) == status


def test_the_feed_covers_the_last_thirty_days_and_the_next_year(alice):
    shown = [change_at(-29), change_at(364), change_at(-31, hours=26)]  # the last one ends 29 days ago
    hidden = [change_at(-40), change_at(366)]
    ChangeFactory(state="new")  # no planned window

    found = events(calendar_feed(alice, now=NOW))

    assert {f"{c.number}@itom" for c in shown} == set(found)
    assert not {f"{c.number}@itom" for c in hidden} & set(found)


@pytest.mark.urls(__name__)
def test_active_blackout_windows_are_events_of_their_own(alice, settings):
    settings.PORTAL_URL = "https://itom.example.com"
    freeze = BlackoutWindowFactory(
        name="Year-end freeze", start=at(5), end=at(9), reason="Closing the books.", environment="production"
    )
    freeze.ci_classes.set([ci_class("database")])
    BlackoutWindowFactory(name="Old plan", start=at(5), end=at(9), active=False)

    found = events(calendar_feed(alice, now=NOW))

    assert list(found) == [f"blackout-{freeze.pk}@itom"]
    event = found[f"blackout-{freeze.pk}@itom"]
    assert str(event["SUMMARY"]) == "Blackout: Year-end freeze"
    assert (event.decoded("DTSTART"), event.decoded("DTEND")) == (freeze.start, freeze.end)
    assert str(event["TRANSP"]) == "TRANSPARENT"
    assert str(event["URL"]) == f"https://itom.example.com/changes/blackouts/{freeze.pk}/"
    description = str(event["DESCRIPTION"])
    assert "Closing the books." in description
    assert "Environment: Production; CI classes: Database" in description


def test_a_global_blackout_says_it_covers_every_change(alice):
    freeze = BlackoutWindowFactory(start=at(1), end=at(2))

    event = events(calendar_feed(alice, now=NOW))[f"blackout-{freeze.pk}@itom"]

    assert "Scope: every change" in str(event["DESCRIPTION"])


def test_the_feed_costs_a_constant_number_of_queries(alice, django_assert_max_num_queries):
    for day in range(10):
        change_at(day, assignee=alice).affected_cis.set([CIFactory()])
        BlackoutWindowFactory(start=at(day), end=at(day + 1)).ci_classes.set([ci_class("database")])

    with django_assert_max_num_queries(5):
        found = events(calendar_feed(alice, now=NOW))

    assert len(found) == 20
