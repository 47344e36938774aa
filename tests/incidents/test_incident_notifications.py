"""Who hears about what happens to an incident (``itom.notifications.notify`` from the
services): the team when it opens, the assignee when assigned, the caller and watchers when it
moves or is commented — never the person who acted, never for a change that was rolled back —
plus the signed webhook deliveries, the registered events and the CI page's incident panel."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from incidents.notifications import EVENTS
from incidents.services import incidents as services
from itom import notifications
from itom.models import Notification, NotificationPreference, WebhookDelivery
from itom.roles import AGENT
from tests.factories import CIFactory, UserFactory, WebhookEndpointFactory, ci_class, link, open_incident

pytestmark = pytest.mark.django_db


@pytest.fixture
def carol(db):
    return UserFactory(username="carol", roles=[AGENT])


def inbox(event=None):
    rows = Notification.objects.all()
    if event:
        rows = rows.filter(event=event)
    return sorted(rows.values_list("recipient__username", flat=True))


def test_the_incident_events_are_registered():
    keys = {event.key for event in notifications.events()}
    assert set(EVENTS) <= keys
    assert {"incident.created", "incident.assigned", "sla.warning", "sla.breached", "problem.workaround"} <= keys


def test_opening_tells_the_team_and_watchers_but_not_the_opener(alice, bob, carol, network_team):
    network_team.members.add(carol)
    incident = open_incident(alice, title="Core switch down", assignment_team=network_team, watchers=[bob])
    assert inbox("incident.created") == ["bob", "carol"]
    row = Notification.objects.get(recipient__username="carol", event="incident.created")
    assert row.title == f"{incident.number} opened: Core switch down"
    assert row.url == f"/incidents/{incident.pk}/"


def test_assigning_tells_the_assignee_or_else_the_team(alice, bob, carol, network_team, database_team):
    incident = open_incident(carol)
    services.assign(incident, user=carol, team=database_team)  # bob is the Database team
    assert inbox("incident.assigned") == ["bob"]
    Notification.objects.all().delete()
    services.assign(incident, user=carol, team=network_team, assignee=alice)
    assert inbox("incident.assigned") == ["alice"]
    assert Notification.objects.get().title.startswith(f"{incident.number} assigned to you")


def test_a_state_change_tells_the_caller_assignee_and_watchers(alice, bob, carol, network_team):
    incident = open_incident(carol, caller=bob, assignment_team=network_team, assignee=alice)
    Notification.objects.all().delete()
    services.transition(incident, "on_hold", user=alice, hold_reason="awaiting_caller", note="Which floor?")
    assert inbox("incident.state_changed") == ["bob", "carol"]  # caller, opener; alice acted
    row = Notification.objects.filter(recipient__username="bob").get()
    assert "on hold (awaiting caller)" in row.title and row.body == "Which floor?"


def test_a_work_note_is_not_sent_to_the_caller_but_a_comment_is(alice, bob, carol, network_team):
    incident = open_incident(alice, caller=bob, assignment_team=network_team, assignee=alice, watchers=[carol])
    Notification.objects.all().delete()
    services.add_comment(incident, user=alice, body="Internal: relay suspected", public=False)
    assert inbox("incident.commented") == ["carol"]
    Notification.objects.all().delete()
    services.add_comment(incident, user=alice, body="We found it.")
    assert inbox("incident.commented") == ["bob", "carol"]


def test_people_who_turned_an_event_off_are_left_out(alice, bob, network_team):
    network_team.members.add(bob)
    NotificationPreference.objects.create(user=bob, event="incident.created", channel="in_app", enabled=False)
    open_incident(alice, assignment_team=network_team)
    assert inbox("incident.created") == []


def test_a_refused_change_notifies_nobody(alice_api, alice, bob):
    incident = open_incident(alice, caller=bob)
    Notification.objects.all().delete()
    response = alice_api.post(f"/api/v1/incidents/{incident.pk}/transition/", {"state": "resolved"}, format="json")
    assert response.status_code == 400
    assert not Notification.objects.exists()


def test_a_subscribed_webhook_gets_a_delivery_with_the_incident(alice, network_team):
    endpoint = WebhookEndpointFactory(events=["incident.created"])
    WebhookEndpointFactory(events=["problem.created"])
    incident = open_incident(alice, title="Mail down", impact=1, urgency=1, assignment_team=network_team)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.endpoint, delivery.event) == (endpoint, "incident.created")
    assert delivery.payload["data"]["number"] == incident.number
    assert delivery.payload["data"]["priority"] == 1
    assert delivery.payload["data"]["assignment_team"] == "Network"


# --- the CI page ------------------------------------------------------------------------------


def test_the_ci_page_lists_the_open_incidents_affecting_it_directly_or_as_a_service(alice_client, alice):
    server = CIFactory(name="web-01", ci_class=ci_class("linux-server"))
    shop = CIFactory(name="Online shop", ci_class=ci_class("business-service"))
    link(shop, server, "depends-on")
    direct = open_incident(alice, title="web-01 down", affected_cis=[server])
    closed = open_incident(alice, title="web-01 disk", affected_cis=[server])
    services.transition(closed, "canceled", user=alice)

    page = alice_client.get(reverse("cmdb:ci_detail", args=[server.pk])).content.decode()
    assert "Open incidents" in page and direct.number in page and closed.number not in page
    service_page = alice_client.get(reverse("cmdb:ci_detail", args=[shop.pk])).content.decode()
    assert direct.number in service_page
    assert f"?queue=open&amp;ci={shop.pk}" in service_page


def test_the_ci_page_keeps_incidents_from_people_who_may_not_see_them(client, alice):
    server = CIFactory(name="web-01")
    open_incident(alice, affected_cis=[server])
    nobody = UserFactory(username="nobody")
    nobody.user_permissions.add(Permission.objects.get(codename="view_ci"))
    client.force_login(nobody)
    page = client.get(reverse("cmdb:ci_detail", args=[server.pk])).content.decode()
    assert "Open incidents" not in page
