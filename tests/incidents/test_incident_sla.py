"""SLA clocks follow the incident through its services (``slas.services.sync_clocks``): started
when it opens, paused on hold, stopped by the first response and the resolution, reopened,
retargeted on a priority change, canceled — and the scan's warnings and breaches land on the
incident's timeline and reach the right people, escalating (``incidents.wiring``)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.choices import TimelineKind
from incidents.services import incidents as services
from itom.models import Notification
from itom.roles import AGENT, MANAGER
from slas.models import BusinessCalendar, SLAClock
from slas.services import scan
from tests.factories import CIFactory, TeamFactory, UserFactory, ci_class, link, open_incident, sla_policy
from tests.itom import notifying

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]
eager_celery = notifying.eager_celery  # the scan's SLA events are recorded by a Celery task, run in the test

RESPONSE = {1: 15, 2: 30, 3: 60, 4: 240, 5: 480}
RESOLUTION = {1: 240, 2: 480, 3: 960, 4: 2400, 5: 4800}


def round_the_clock():
    return BusinessCalendar.objects.get_or_create(name="24 × 7", defaults={"always_open": True})[0]


@pytest.fixture
def policy(db):
    return sla_policy("Standard", calendar=round_the_clock(), response=RESPONSE, resolution=RESOLUTION)


def clocks(incident):
    return {clock.metric: clock for clock in SLAClock.objects.filter(incident=incident)}


def test_opening_starts_a_response_and_a_resolution_clock_at_the_incidents_priority(alice, policy):
    incident = open_incident(alice, impact=1, urgency=1)  # P1
    found = clocks(incident)
    assert set(found) == {"response", "resolution"}
    response, resolution = found["response"], found["resolution"]
    assert (response.state, response.priority, response.policy) == ("running", 1, policy)
    assert response.due_at - response.started_at == timedelta(minutes=15)
    assert resolution.due_at - resolution.started_at == timedelta(minutes=240)


def test_no_matching_policy_means_no_clocks(alice):
    assert not clocks(open_incident(alice))


def test_holding_pauses_the_clocks_and_resuming_restarts_them(alice, policy):
    incident = open_incident(alice)
    incident = services.transition(incident, "on_hold", user=alice, hold_reason="awaiting_caller")
    found = clocks(incident)
    assert (found["response"].state, found["resolution"].state) == ("met", "paused")  # leaving new: a response
    paused = found["resolution"].events.filter(kind="paused").get()
    assert paused.reason == "On hold: awaiting caller"
    services.transition(incident, "in_progress", user=alice)
    assert clocks(incident)["resolution"].state == "running"


def test_the_first_response_stops_the_response_clock_as_met(alice, network_team, policy):
    incident = open_incident(alice, assignment_team=network_team)
    services.assign(incident, user=alice, assignee=alice)
    found = clocks(incident)
    assert (found["response"].state, found["resolution"].state) == ("met", "running")


def test_resolving_meets_the_resolution_clock_and_reopening_restarts_it(alice, policy):
    incident = open_incident(alice)
    incident = services.transition(incident, "resolved", user=alice, resolution_code="solved", note="Fixed.")
    assert clocks(incident)["resolution"].state == "met"
    services.transition(incident, "in_progress", user=alice, note="Back again.")
    assert clocks(incident)["resolution"].state == "running"


def test_canceling_cancels_every_clock(alice, policy):
    incident = services.transition(open_incident(alice), "canceled", user=alice)
    assert {c.state for c in clocks(incident).values()} == {"canceled"}


def test_a_priority_change_retargets_the_running_clocks(alice, policy):
    incident = open_incident(alice, impact=3, urgency=3)  # P5: 480 min to respond
    assert clocks(incident)["response"].target_seconds == 480 * 60
    services.update_incident(incident, user=alice, impact=1, urgency=1)  # P1: 15 min
    response = clocks(incident)["response"]
    assert (response.priority, response.target_seconds) == (1, 15 * 60)
    assert response.events.filter(kind="retargeted").exists()


def test_policies_match_the_team_and_the_affected_cis_class_and_services(alice, network_team):
    shop = CIFactory(name="Online shop", ci_class=ci_class("business-service"))
    server = CIFactory(name="web-01", ci_class=ci_class("linux-server"))
    link(shop, server, "depends-on")
    for_shop = sla_policy("Shop", calendar=round_the_clock(), order=1)
    for_shop.business_services.set([shop])
    for_servers = sla_policy("Servers", calendar=round_the_clock(), order=2)
    for_servers.ci_classes.set([ci_class("server")])  # the parent class of Linux servers
    for_network = sla_policy("Network", calendar=round_the_clock(), order=3)
    for_network.teams.set([network_team])

    assert clocks(open_incident(alice, affected_cis=[server]))["response"].policy == for_shop
    other_server = CIFactory(ci_class=ci_class("linux-server"))
    assert clocks(open_incident(alice, affected_cis=[other_server]))["response"].policy == for_servers
    assert clocks(open_incident(alice, assignment_team=network_team))["response"].policy == for_network
    assert not clocks(open_incident(alice))


def test_the_api_embeds_the_live_clocks(alice_api, alice, policy):
    incident = services.transition(open_incident(alice), "on_hold", user=alice, hold_reason="awaiting_vendor")
    sla = alice_api.get(f"/api/v1/incidents/{incident.pk}/").json()["sla"]
    assert sorted((clock["metric"], clock["state"], clock["policy"]["name"]) for clock in sla) == [
        ("resolution", "paused", "Standard"),
        ("response", "met", "Standard"),  # moving out of new is the first response
    ]


# --- warnings and breaches from the scan ------------------------------------------------------


@pytest.fixture
def desk():
    """A team with a lead, an agent and a manager among its members, and a manager elsewhere."""
    lead = UserFactory(username="lena", roles=[AGENT])
    agent = UserFactory(username="arno", roles=[AGENT])
    team_manager = UserFactory(username="mona", roles=[MANAGER])
    other_manager = UserFactory(username="otto", roles=[MANAGER])
    team = TeamFactory(name="Service desk", lead=lead, members=[lead, agent, team_manager])
    return team, lead, agent, team_manager, other_manager


def notified(event):
    return sorted(Notification.objects.filter(event=event).values_list("recipient__username", flat=True))


def run_scan(capture, minutes):
    with capture(execute=True):
        return scan(now=timezone.now() + timedelta(minutes=minutes))


def test_warnings_escalate_from_the_assignee_to_the_lead_and_a_breach_reaches_the_managers(
    desk, policy, django_capture_on_commit_callbacks
):
    team, _, agent, *_ = desk
    incident = open_incident(None, assignment_team=team, assignee=agent, impact=2, urgency=2)  # P3
    # Assigned at once by nobody (a system opener): no first response, so the response clock runs.
    assert clocks(incident)["response"].state == "running"

    assert run_scan(django_capture_on_commit_callbacks, 46) == {"warned": 1, "breached": 0}  # 75% of 60 min
    assert notified("sla.warning") == ["arno"]
    first = incident.timeline.get(kind=TimelineKind.SLA)
    assert first.body.startswith("Response SLA at 75%: due ") and first.data["escalated"] is False

    Notification.objects.all().delete()
    run_scan(django_capture_on_commit_callbacks, 55)  # 90%: the lead too
    assert notified("sla.warning") == ["arno", "lena"]

    run_scan(django_capture_on_commit_callbacks, 61)  # breached
    assert notified("sla.breached") == ["arno", "lena", "mona"]  # the team's own manager, not otto
    breach = incident.timeline.filter(kind=TimelineKind.SLA, data__event="breached").get()
    assert breach.body.startswith("Response SLA breached")


def test_a_redelivered_chunk_of_sla_events_records_nothing_twice(desk, policy, django_capture_on_commit_callbacks):
    from incidents.tasks import record_sla_events

    team, _, agent, *_ = desk
    incident = open_incident(None, assignment_team=team, assignee=agent, impact=2, urgency=2)
    run_scan(django_capture_on_commit_callbacks, 46)
    clock = clocks(incident)["response"]
    with django_capture_on_commit_callbacks(execute=True):
        record_sla_events.delay("warning", [[clock.pk, 75]])  # as a worker that died mid-chunk would see it again
    assert incident.timeline.filter(kind=TimelineKind.SLA).count() == 1
    assert notified("sla.warning") == ["arno"]


def test_an_unassigned_incidents_first_warning_goes_to_the_team_lead(desk, policy, django_capture_on_commit_callbacks):
    team, *_ = desk
    open_incident(None, assignment_team=team, impact=2, urgency=2)
    run_scan(django_capture_on_commit_callbacks, 46)
    assert set(notified("sla.warning")) == {"lena"}


def test_a_breach_of_a_team_without_managers_reaches_every_manager(policy, django_capture_on_commit_callbacks):
    UserFactory(username="mona", roles=[MANAGER])
    UserFactory(username="otto", roles=[MANAGER])
    lead = UserFactory(username="lena", roles=[AGENT])
    team = TeamFactory(name="Field", lead=lead, members=[lead])
    open_incident(None, assignment_team=team, impact=2, urgency=2)
    run_scan(django_capture_on_commit_callbacks, 61)
    assert set(notified("sla.breached")) == {"lena", "mona", "otto"}


def test_a_breach_found_when_the_incident_changes_is_recorded_too(alice, policy, django_capture_on_commit_callbacks):
    incident = open_incident(alice, impact=3, urgency=3)
    SLAClock.objects.filter(incident=incident).update(
        started_at=timezone.now() - timedelta(days=1), running_since=timezone.now() - timedelta(days=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.transition(incident, "in_progress", user=alice)  # the response comes a day late
    assert clocks(incident)["response"].state == "breached"
    assert incident.timeline.filter(kind=TimelineKind.SLA, data__event="breached", data__metric="response").exists()


def test_the_breaching_queue_lists_incidents_at_risk(alice_api, alice, policy, django_capture_on_commit_callbacks):
    calm = open_incident(alice, impact=3, urgency=3)  # P5: 8 h to respond
    hot = open_incident(alice, impact=1, urgency=1)  # P1: due within the hour
    warned = open_incident(alice, impact=2, urgency=2)  # P3: 60 min
    SLAClock.objects.filter(incident=warned, metric="response").update(warned_pct=75)
    numbers = {item["number"] for item in alice_api.get("/api/v1/incidents/", {"queue": "breaching"}).json()["results"]}
    assert numbers == {hot.number, warned.number}
    assert calm.number not in numbers
