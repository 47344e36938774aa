"""``/api/v1/incidents/`` and its actions, ``/api/v1/incident-categories/`` and
``/api/v1/priority-matrix/``: the generic endpoint tests, then each action, bad input (400
naming the field, 409 with the allowed states, nothing written), roles and the list's query
count."""

import pytest
from django.urls import reverse

from incidents.api.views import CategoryViewSet, IncidentViewSet, PriorityMatrixViewSet
from incidents.choices import TimelineKind
from incidents.models import Category, Incident, PriorityRule, TimelineEntry
from incidents.services import incidents as services
from itom.models import ObjectChange
from tests.api_testing import EVERYONE, APIEndpointTests, ReadOnlyAPIEndpointTests
from tests.conftest import token_client
from tests.factories import CIFactory, TeamFactory, ci_class, link, open_incident, sla_policy

pytestmark = pytest.mark.django_db

AGENTS_AND_UP = ("alice", "bob", "maria", "root")
INCIDENTS = "/api/v1/incidents/"


def url(incident, action=""):
    return f"{INCIDENTS}{incident.pk}/{action + '/' if action else ''}"


def round_the_clock():
    from slas.models import BusinessCalendar

    return BusinessCalendar.objects.get_or_create(name="24 × 7", defaults={"always_open": True})[0]


@pytest.fixture
def bob_api(bob):
    return token_client(bob)


# --- generic endpoint tests ---------------------------------------------------------------------


class TestIncidentAPI(APIEndpointTests):
    viewset = IncidentViewSet
    url_name = "api:incident"
    make_object = staticmethod(lambda: open_incident(title="Printer on fire"))
    create_data = {"title": "Mail queue growing", "impact": 2, "urgency": 2}
    update_data = {"title": "Mail queue growing fast"}
    invalid_data = {"impact": 7}
    writers = AGENTS_AND_UP
    max_list_queries = 10

    def test_writers_can_delete_and_the_deletion_is_audited(self, people, make_api_client):
        """Incidents are canceled, never deleted through the API (managers may in the admin)."""
        obj = self.make_object()
        for name in self.writers:
            response = make_api_client(people[name]).delete(self.detail_url(obj))
            assert response.status_code == 405, name
        assert Incident.objects.filter(pk=obj.pk).exists()

    def test_other_roles_cannot_update_or_delete(self, people, make_api_client):
        obj = self.make_object()
        for name in set(EVERYONE) - set(self.writers):
            client = make_api_client(people[name])
            assert client.patch(self.detail_url(obj), self.data("update_data"), format="json").status_code == 403
            assert client.delete(self.detail_url(obj)).status_code in (403, 405)
        assert Incident.objects.filter(pk=obj.pk).exists()


class TestCategoryAPI(APIEndpointTests):
    viewset = CategoryViewSet
    url_name = "api:incident-category"
    make_object = staticmethod(lambda: Category.objects.create(name=f"Category {Category.objects.count() + 1}"))
    create_data = {"name": "Network"}
    update_data = {"description": "Switches, routers, Wi-Fi."}
    invalid_data = {"name": ""}
    writers = AGENTS_AND_UP


class TestPriorityMatrixAPI(ReadOnlyAPIEndpointTests):
    viewset = PriorityMatrixViewSet
    url_name = "api:priority-rule"
    make_object = staticmethod(lambda: PriorityRule.objects.first())
    list_size = 1


# --- reading ----------------------------------------------------------------------------------


def test_an_incident_reads_with_its_clocks_services_and_allowed_moves(alice_api, alice, network_team):
    sla_policy("Everything", calendar=round_the_clock())
    server = CIFactory(name="db-01", ci_class=ci_class("linux-server"))
    shop = CIFactory(name="Online shop", ci_class=ci_class("business-service"))
    link(shop, server, "depends-on")
    incident = open_incident(alice, impact=1, urgency=1, assignment_team=network_team, affected_cis=[server])
    body = alice_api.get(url(incident)).json()
    assert body["number"] == incident.number and body["priority"] == 1
    assert body["affected_cis"] == [server.pk]
    assert body["affected_services"] == [{"id": shop.pk, "name": "Online shop"}]
    assert body["assignment_team"] == network_team.pk
    assert body["allowed_transitions"] == ["in_progress", "on_hold", "resolved", "canceled"]
    assert {clock["metric"] for clock in body["sla"]} == {"response", "resolution"}
    assert all(clock["state"] == "running" and clock["due_at"] for clock in body["sla"])
    assert body["web_url"] == f"/incidents/{incident.pk}/"


def test_the_list_stays_at_a_constant_query_count_with_clocks_cis_and_watchers(
    alice_api, alice, bob, network_team, django_assert_max_num_queries
):
    sla_policy("Everything", calendar=round_the_clock())
    cis = CIFactory.create_batch(3)
    for n in range(30):
        open_incident(alice, assignment_team=network_team, affected_cis=cis[: n % 4], watchers=[bob])
    for page_size in (5, 30):
        with django_assert_max_num_queries(10):
            response = alice_api.get(INCIDENTS, {"page_size": page_size})
        assert len(response.json()["results"]) == page_size
        assert all(len(item["sla"]) == 2 for item in response.json()["results"])


def test_the_list_filters_by_state_priority_team_and_search(alice_api, alice, network_team, database_team):
    a = open_incident(alice, title="Core switch down", impact=1, urgency=1, assignment_team=network_team)
    b = open_incident(alice, title="Replica lagging", assignment_team=database_team)
    services.transition(b, "on_hold", user=alice, hold_reason="awaiting_vendor")

    def numbers(**params):
        return {item["number"] for item in alice_api.get(INCIDENTS, params).json()["results"]}

    assert numbers(state="on_hold") == {b.number}
    assert numbers(priority=[1, 2]) == {a.number}
    assert numbers(assignment_team=database_team.pk) == {b.number}
    assert numbers(q="switch") == {a.number}
    assert numbers(q=b.number) == {b.number}
    assert alice_api.get(INCIDENTS, {"state": "nonsense"}).status_code == 400


# --- creating and updating --------------------------------------------------------------------


def test_creating_takes_names_for_team_and_people_and_marks_the_source(alice_api, alice, bob, network_team):
    response = alice_api.post(
        INCIDENTS,
        {
            "title": "Wi-Fi down on floor 3",
            "impact": 1,
            "urgency": 2,
            "assignment_team": "Network",
            "assignee": "alice",
            "watchers": ["bob"],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["priority"], body["source"], body["assignee"], body["watchers"]) == (2, "api", alice.pk, [bob.pk])
    assert body["opened_by"] == alice.pk
    assert response["ETag"]


def test_an_integration_may_say_where_an_incident_came_from(alice_api):
    response = alice_api.post(INCIDENTS, {"title": "Disk 95%", "source": "monitoring"}, format="json")
    assert response.json()["source"] == "monitoring"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"title": "x", "impact": 7}, "impact"),
        ({"title": "x", "urgency": "soon"}, "urgency"),
        ({"impact": 1}, "title"),
        ({"title": "x", "assignment_team": "No such team"}, "assignment_team"),
        ({"title": "x", "state": "resolved"}, "state"),
        ({"title": "x", "priority": 1}, "priority"),
        ({"title": "x", "affected_cis": [999999]}, "affected_cis"),
        ({"title": "x", "parent": "INC9999999"}, "parent"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(alice_api, payload, field):
    before = (Incident.objects.count(), ObjectChange.objects.count())
    response = alice_api.post(INCIDENTS, payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert (Incident.objects.count(), ObjectChange.objects.count()) == before


def test_impact_7_says_what_is_allowed(alice_api):
    response = alice_api.post(INCIDENTS, {"title": "x", "impact": 7}, format="json")
    assert response.json()["impact"] == ["Impact must be one of 1 - High, 2 - Medium, 3 - Low; got 7."]


def test_an_assignee_outside_the_team_is_a_400_and_nothing_is_written(alice_api, network_team, database_team):
    before = Incident.objects.count()
    response = alice_api.post(
        INCIDENTS, {"title": "Slow", "assignment_team": "Network", "assignee": "bob"}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "assignee": ["bob is not a member of Network: choose one of its members, or another team."]
    }
    assert Incident.objects.count() == before


def test_patching_impact_recomputes_priority(alice_api, alice):
    incident = open_incident(alice)
    response = alice_api.patch(url(incident), {"impact": 1, "urgency": 1}, format="json")
    assert response.status_code == 200
    assert response.json()["priority"] == 1


def test_the_source_cannot_change_after_creation(alice_api, alice):
    response = alice_api.patch(url(open_incident(alice)), {"source": "email"}, format="json")
    assert response.status_code == 400 and "source" in response.json()


def test_a_closed_incident_cannot_be_edited(alice_api, alice):
    incident = open_incident(alice)
    services.transition(incident, "canceled", user=alice)
    response = alice_api.patch(url(incident), {"title": "Renamed"}, format="json")
    assert response.status_code == 409
    assert "can no longer be edited" in response.json()["detail"]


# --- transitions ------------------------------------------------------------------------------


def test_a_transition_moves_the_incident_and_answers_with_it(alice_api, alice):
    incident = open_incident(alice)
    response = alice_api.post(
        url(incident, "transition"), {"state": "on_hold", "hold_reason": "awaiting_caller"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "on_hold"
    assert response.json()["hold_reason"] == "awaiting_caller"
    assert response.json()["allowed_transitions"] == ["in_progress", "resolved", "canceled"]


def test_a_refused_transition_is_a_409_with_the_allowed_states(alice_api, alice):
    incident = open_incident(alice)
    services.transition(incident, "canceled", user=alice)
    response = alice_api.post(url(incident, "transition"), {"state": "in_progress"}, format="json")
    assert response.status_code == 409
    assert response.json() == {
        "detail": "Cannot move from 'canceled' to 'in_progress'; allowed: none.",
        "state": "canceled",
        "requested": "in_progress",
        "allowed": [],
    }
    response = alice_api.post(url(open_incident(alice), "transition"), {"state": "closed"}, format="json")
    assert response.json()["allowed"] == ["in_progress", "on_hold", "resolved", "canceled"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"state": "resolved", "resolution_code": "solved"}, "note"),
        ({"state": "resolved", "note": "Done"}, "resolution_code"),
        ({"state": "on_hold"}, "hold_reason"),
        ({"state": "sleeping"}, "state"),
        ({}, "state"),
    ],
)
def test_a_transition_missing_what_it_needs_is_a_400_and_writes_nothing(alice_api, alice, payload, field):
    incident = open_incident(alice)
    before = (TimelineEntry.objects.count(), ObjectChange.objects.count())
    response = alice_api.post(url(incident, "transition"), payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    incident.refresh_from_db()
    assert incident.state == "new"
    assert (TimelineEntry.objects.count(), ObjectChange.objects.count()) == before


def test_a_stale_if_match_on_a_transition_is_a_412(alice_api, alice):
    incident = open_incident(alice)
    etag = alice_api.get(url(incident))["ETag"]
    services.update_incident(incident, user=alice, title="Changed meanwhile")
    response = alice_api.post(url(incident, "transition"), {"state": "in_progress"}, format="json", HTTP_IF_MATCH=etag)
    assert response.status_code == 412
    incident.refresh_from_db()
    assert incident.state == "new"


# --- timeline and comments --------------------------------------------------------------------


def test_comments_and_work_notes_are_posted_and_listed(alice_api, alice):
    incident = open_incident(alice)
    posted = alice_api.post(url(incident, "comments"), {"body": "Looking into it."}, format="json")
    assert posted.status_code == 201
    assert (posted.json()["kind"], posted.json()["public"], posted.json()["author_name"]) == ("comment", True, "alice")
    note = alice_api.post(url(incident, "comments"), {"body": "Check the relay.", "public": False}, format="json")
    assert note.json()["kind"] == "work_note"
    listed = alice_api.get(url(incident, "comments")).json()
    assert [entry["body"] for entry in listed["results"]] == ["Looking into it.", "Check the relay."]


def test_an_empty_comment_is_a_400(alice_api, alice):
    response = alice_api.post(url(open_incident(alice), "comments"), {"body": "  "}, format="json")
    assert response.status_code == 400 and "body" in response.json()


def test_the_timeline_lists_everything_in_order_and_filters_by_kind(alice_api, alice, network_team):
    incident = open_incident(alice, assignment_team=network_team)
    services.add_comment(incident, user=alice, body="Hello")
    services.transition(incident, "in_progress", user=alice)
    body = alice_api.get(url(incident, "timeline")).json()
    assert [entry["kind"] for entry in body["results"]] == ["state", "assignment", "comment", "state"]
    only = alice_api.get(url(incident, "timeline"), {"kind": "state,comment"}).json()
    assert [entry["kind"] for entry in only["results"]] == ["state", "comment", "state"]
    public = alice_api.get(url(incident, "timeline"), {"public": "true"}).json()
    assert TimelineKind.ASSIGNMENT not in [entry["kind"] for entry in public["results"]]
    assert alice_api.get(url(incident, "timeline"), {"kind": "gossip"}).status_code == 400


# --- bulk -------------------------------------------------------------------------------------


def test_bulk_assign_assigns_each_and_reports_the_ones_it_could_not(alice_api, alice, network_team):
    a, b, closed = open_incident(alice), open_incident(alice), open_incident(alice)
    services.transition(closed, "canceled", user=alice)
    response = alice_api.post(
        f"{INCIDENTS}bulk/",
        {"action": "assign", "ids": [a.pk, b.pk, closed.pk, 999999], "assignment_team": "Network", "assignee": "alice"},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["done"] == [a.pk, b.pk]
    assert set(body["errors"]) == {str(closed.pk), "999999"}
    assert "can't be reassigned" in body["errors"][str(closed.pk)]
    assert set(Incident.objects.filter(assignee=alice).values_list("pk", flat=True)) == {a.pk, b.pk}


def test_bulk_transition_moves_those_it_can(alice_api, alice):
    a, b = open_incident(alice), open_incident(alice)
    services.transition(b, "canceled", user=alice)
    response = alice_api.post(
        f"{INCIDENTS}bulk/",
        {"action": "transition", "ids": [a.pk, b.pk], "state": "on_hold", "hold_reason": "awaiting_change"},
        format="json",
    )
    assert response.json()["done"] == [a.pk]
    assert "allowed: none" in response.json()["errors"][str(b.pk)]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"action": "transition", "state": "resolved", "resolution_code": "solved"}, "note"),
        ({"action": "transition"}, "state"),
        ({"action": "assign", "assignment_team": "Network", "assignee": "bob"}, "assignee"),
        ({"action": "assign"}, "assignment_team"),
        ({"action": "explode"}, "action"),
    ],
)
def test_a_bulk_request_that_applies_to_none_is_a_400_and_writes_nothing(
    alice_api, alice, bob, network_team, payload, field
):
    incident = open_incident(alice)
    before = TimelineEntry.objects.count()
    response = alice_api.post(f"{INCIDENTS}bulk/", {"ids": [incident.pk], **payload}, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert TimelineEntry.objects.count() == before


# --- roles ------------------------------------------------------------------------------------


def test_a_viewer_reads_but_every_action_is_refused(victor_api, alice):
    incident = open_incident(alice)
    assert victor_api.get(url(incident, "timeline")).status_code == 200
    assert victor_api.get(url(incident, "comments")).status_code == 200
    for action, payload in [
        ("transition", {"state": "in_progress"}),
        ("comments", {"body": "hi"}),
        ("promote", {}),
        ("major-update", {"body": "hi"}),
        ("resolve-children", {"resolution_code": "solved", "note": "x"}),
        ("children", {"incident": incident.pk}),
    ]:
        assert victor_api.post(url(incident, action), payload, format="json").status_code == 403, action
    assert (
        victor_api.post(f"{INCIDENTS}bulk/", {"action": "assign", "ids": [incident.pk]}, format="json").status_code
        == 403
    )
    assert TimelineEntry.objects.filter(incident=incident).count() == 1


def test_a_read_only_token_cannot_act(make_api_client, alice):
    incident = open_incident(alice)
    client = make_api_client(alice, write=False)
    response = client.post(url(incident, "comments"), {"body": "hi"}, format="json")
    assert response.status_code == 403 and "read-only" in response.json()["detail"]


def test_anonymous_callers_are_refused_everywhere(anon, alice):
    incident = open_incident(alice)
    for path in (url(incident, "timeline"), url(incident, "comments"), reverse("api:priority-rule-list")):
        assert anon.get(path).status_code in (401, 403)


def test_agents_of_any_team_may_work_any_incident(bob_api, alice, network_team):
    """Incidents are shared work: an agent of another team may comment and move it (DESIGN.md §3)."""
    incident = open_incident(alice, assignment_team=network_team)
    assert bob_api.post(url(incident, "comments"), {"body": "Seen on our side too"}, format="json").status_code == 201
    assert bob_api.post(url(incident, "transition"), {"state": "in_progress"}, format="json").status_code == 200


# --- categories and the priority matrix -------------------------------------------------------


def test_a_category_in_use_cannot_be_deleted(alice_api, alice):
    category = Category.objects.create(name="Hardware")
    open_incident(alice, category=category)
    response = alice_api.delete(reverse("api:incident-category-detail", args=[category.pk]))
    assert response.status_code == 409
    assert Category.objects.filter(pk=category.pk).exists()


def test_the_priority_matrix_lists_the_nine_cells(victor_api):
    body = victor_api.get(reverse("api:priority-rule-list")).json()
    assert body["count"] == 9
    cells = {(rule["impact"], rule["urgency"]): rule["priority"] for rule in body["results"]}
    assert cells[(1, 1)] == 1 and cells[(3, 3)] == 5 and cells[(2, 2)] == 3
    critical = victor_api.get(reverse("api:priority-rule-list"), {"q": "critical"}).json()
    assert [(rule["impact"], rule["urgency"]) for rule in critical["results"]] == [(1, 1)]


def test_a_team_name_is_accepted_where_a_team_is_expected(alice_api):
    TeamFactory(name="Storage")
    response = alice_api.post(INCIDENTS, {"title": "NAS full", "assignment_team": "Storage"}, format="json")
    assert response.status_code == 201


def test_a_put_of_what_a_get_returned_passes_but_changing_the_state_that_way_is_refused(alice_api, alice):
    incident = open_incident(alice)
    body = alice_api.get(url(incident)).json()
    body["title"] = "Renamed by PUT"
    response = alice_api.put(url(incident), body, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["title"] == "Renamed by PUT"
    body["state"] = "resolved"
    response = alice_api.put(url(incident), body, format="json")
    assert response.status_code == 400
    assert response.json() == {"state": ["Change the state with POST …/transition/."]}


def test_patching_the_team_by_name_reassigns(alice_api, alice, network_team, database_team):
    incident = open_incident(alice, assignment_team=network_team, assignee=alice)
    response = alice_api.patch(url(incident), {"assignment_team": "Database", "assignee": "bob"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["assignment_team"], body["assignee"]) == (database_team.pk, database_team.lead.pk)


def test_the_timeline_stays_at_a_constant_query_count(
    alice_api, alice, django_assert_max_num_queries, settings, tmp_path
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path
    incident = open_incident(alice)
    for n in range(20):
        services.add_comment(incident, user=alice, body=f"Note {n}", public=n % 2 == 0)
        services.add_attachment(
            incident, user=alice, uploaded_file=SimpleUploadedFile(f"log{n}.txt", b"x", content_type="text/plain")
        )
    for page_size in (5, 50):
        with django_assert_max_num_queries(10):
            response = alice_api.get(url(incident, "timeline"), {"page_size": page_size})
        assert len(response.json()["results"]) == min(page_size, 41)  # opened + 20 comments + 20 files
