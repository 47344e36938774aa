"""``IncidentFilterSet``: the queue tabs (mine, my teams, unassigned, breaching, open) mean the
same in the API as on the queue page, and the other filters narrow the list as documented."""

import pytest
from django.test import RequestFactory
from django.utils import timezone

from incidents.filters.incidents import IncidentFilterSet, queue
from incidents.models import Incident
from incidents.services import incidents as services
from slas.models import BusinessCalendar, SLAClock
from tests.conftest import token_client
from tests.factories import CIFactory, ci_class, link, open_incident, sla_policy

pytestmark = pytest.mark.django_db

INCIDENTS = "/api/v1/incidents/"


@pytest.fixture
def board(alice, bob, network_team, database_team):
    """Incidents in every situation a queue tells apart."""
    made = {
        "alices": open_incident(alice, assignment_team=network_team, assignee=alice),
        "network_unassigned": open_incident(alice, assignment_team=network_team),
        "bobs": open_incident(bob, assignment_team=database_team, assignee=bob),
        "nobodys": open_incident(bob),
        "alices_resolved": open_incident(alice, assignment_team=network_team, assignee=alice),
    }
    services.transition(made["alices_resolved"], "resolved", user=alice, resolution_code="solved", note="Done")
    return made


def numbers(client, **params):
    return {item["number"] for item in client.get(INCIDENTS, params).json()["results"]}


def expect(board, *names):
    return {board[name].number for name in names}


def test_my_work_is_my_open_incidents(alice_api, board):
    assert numbers(alice_api, queue="mine") == expect(board, "alices")


def test_my_teams_is_the_open_incidents_of_every_team_i_am_in(alice_api, bob, board, network_team):
    assert numbers(alice_api, queue="my_teams") == expect(board, "alices", "network_unassigned")
    network_team.members.add(bob)
    assert numbers(token_client(bob), queue="my_teams") == expect(board, "alices", "network_unassigned", "bobs")


def test_unassigned_and_all_open(alice_api, board):
    assert numbers(alice_api, queue="unassigned") == expect(board, "network_unassigned", "nobodys")
    assert numbers(alice_api, queue="open") == expect(board, "alices", "network_unassigned", "bobs", "nobodys")


def test_an_unknown_queue_is_a_400_naming_it(alice_api):
    response = alice_api.get(INCIDENTS, {"queue": "everything"})
    assert response.status_code == 400 and "queue" in response.json()


def test_the_queues_mean_the_same_to_the_filterset_the_pages_use(alice, board):
    request = RequestFactory().get("/incidents/", {"queue": "mine"})
    request.user = alice
    filterset = IncidentFilterSet(request.GET, queryset=Incident.objects.all(), request=request)
    assert {i.number for i in filterset.qs} == expect(board, "alices")
    assert set(queue(Incident.objects.all(), "mine", alice)) == set(filterset.qs)


def test_breaching_holds_open_incidents_with_a_warned_soon_due_or_breached_clock(alice_api, alice):
    calendar = BusinessCalendar.objects.create(name="24 × 7", always_open=True)
    sla_policy("All", calendar=calendar)  # response: P1 15 min, P3 60 min, P5 480 min
    calm = open_incident(alice, impact=3, urgency=3)
    due_soon = open_incident(alice, impact=1, urgency=1)
    warned = open_incident(alice, impact=3, urgency=3)
    breached = open_incident(alice, impact=3, urgency=3)
    answered_late = open_incident(alice, impact=3, urgency=3)
    resolved_hot = open_incident(alice, impact=1, urgency=1)
    services.transition(resolved_hot, "resolved", user=alice, resolution_code="solved", note="Quick fix")
    SLAClock.objects.filter(incident=warned, metric="response").update(warned_pct=75)
    SLAClock.objects.filter(incident=breached, metric="response").update(breached_at=timezone.now())
    SLAClock.objects.filter(incident=answered_late, metric="response").update(
        state="breached", breached_at=timezone.now(), stopped_at=timezone.now()
    )
    found = numbers(alice_api, queue="breaching")
    assert found == {due_soon.number, warned.number, breached.number}
    assert not {calm.number, answered_late.number, resolved_hot.number} & found


def test_the_ci_filter_matches_affected_cis_and_affected_services(alice_api, alice):
    server = CIFactory(name="web-01", ci_class=ci_class("linux-server"))
    shop = CIFactory(name="Online shop", ci_class=ci_class("business-service"))
    link(shop, server, "depends-on")
    on_server = open_incident(alice, affected_cis=[server])
    on_shop = open_incident(alice, affected_cis=[shop])
    open_incident(alice)
    assert numbers(alice_api, ci=server.pk) == {on_server.number}
    assert numbers(alice_api, ci=shop.pk) == {on_server.number, on_shop.number}
    assert numbers(alice_api, service=shop.pk) == {on_server.number, on_shop.number}


def test_open_major_and_unassigned_filters(alice_api, alice, board):
    major = services.promote_major(open_incident(alice), user=alice)
    assert numbers(alice_api, is_major="true") == {major.number}
    assert board["alices_resolved"].number in numbers(alice_api, open="false")
    assert board["alices_resolved"].number not in numbers(alice_api, open="true")
    assert numbers(alice_api, unassigned="true", queue="open") == expect(board, "network_unassigned", "nobodys") | {
        major.number
    }
