"""``/api/v1/changes/``: the generic endpoint tests, then reading (risk, approval round,
incidents embedded; a bounded list), the filters and queues, creating (standard from a template,
requested for incidents), editing, transitions, blackouts, incidents, notes and conflicts — bad
input answering 400 naming the field or 409, and writing nothing."""

from datetime import timedelta

import pytest

from changes.api.views import ChangeRequestViewSet
from changes.choices import ChangeState
from changes.models import ChangeRequest, ChangeTimelineEntry
from changes.services import approvals
from changes.services import changes as change_services
from itom.models import ObjectChange
from tests.api_testing import EVERYONE, APIEndpointTests
from tests.changes.api_helpers import (
    AGENTS_AND_UP,
    CHANGES,
    lowest_answers,
    ready_change,
    submitted_change,
    url,
    window,
)
from tests.conftest import token_client
from tests.factories import BlackoutWindowFactory, CIFactory, TemplateFactory, ci_class, link, new_change, open_incident

pytestmark = pytest.mark.django_db


def written():
    """What a refused request must leave untouched."""
    return (ChangeRequest.objects.count(), ChangeTimelineEntry.objects.count(), ObjectChange.objects.count())


# --- generic endpoint tests ---------------------------------------------------------------------


class TestChangeAPI(APIEndpointTests):
    viewset = ChangeRequestViewSet
    url_name = "api:change"
    make_object = staticmethod(lambda: new_change(None, title="Replace core switch"))
    create_data = {"title": "Upgrade the mail relay", "type": "normal"}
    update_data = {"title": "Upgrade the mail relay to 3.2"}
    invalid_data = {"type": "minor"}
    writers = AGENTS_AND_UP
    max_list_queries = 14

    def test_writers_can_delete_and_the_deletion_is_audited(self, people, make_api_client):
        """Changes are canceled, never deleted through the API (managers may in the admin): 405
        for those who hold the delete permission, 403 for agents who don't."""
        obj = self.make_object()
        for name in self.writers:
            expected = 405 if name in ("maria", "root") else 403
            assert make_api_client(people[name]).delete(self.detail_url(obj)).status_code == expected, name
        assert ChangeRequest.objects.filter(pk=obj.pk).exists()

    def test_writers_can_update_and_the_change_is_audited(self, people, make_api_client):
        """Creating a change writes its risk in a second save: the edit is the update naming the title."""
        obj = self.make_object()
        response = make_api_client(people["alice"]).patch(self.detail_url(obj), self.data("update_data"), format="json")
        assert response.status_code == 200, response.content
        assert response.json()["title"] == "Upgrade the mail relay to 3.2"
        change = self.changes_for(obj.pk, "update").filter(user_name="alice").get()
        assert "title" in change.diff

    def test_other_roles_cannot_update_or_delete(self, people, make_api_client):
        obj = self.make_object()
        for name in set(EVERYONE) - set(self.writers):
            client = make_api_client(people[name])
            assert client.patch(self.detail_url(obj), self.data("update_data"), format="json").status_code == 403
            assert client.delete(self.detail_url(obj)).status_code in (403, 405)
        assert ChangeRequest.objects.get(pk=obj.pk).title == "Replace core switch"


# --- reading ----------------------------------------------------------------------------------


def test_a_change_reads_with_its_people_cis_risk_approval_and_allowed_moves(alice_api, alice, nina, network_team):
    server = CIFactory(name="db-01", ci_class=ci_class("linux-server"), criticality=1, environment="production")
    shop = CIFactory(name="Online shop", ci_class=ci_class("business-service"))
    link(shop, server, "depends-on")
    change = submitted_change(alice, network_team, affected_cis=[server])
    body = alice_api.get(url(change)).json()
    assert (body["number"], body["type"], body["state"]) == (change.number, "normal", "authorize")
    assert body["requester"] == {"id": alice.pk, "username": "alice", "full_name": alice.get_full_name()}
    assert body["assignment_team"] == {"id": network_team.pk, "name": "Network"}
    assert body["affected_cis"] == [{"id": server.pk, "name": "db-01"}]
    assert body["impacted_cis"] == [shop.pk]
    assert body["impacted_services"] == [{"id": shop.pk, "name": "Online shop"}]
    risk = body["risk"]
    assert risk["score"] == change.risk_score and risk["effective"] == change.risk_level
    assert {f["factor"] for f in risk["factors"]} >= {"criticality", "environment"}
    approval = body["approval"]
    assert approval["round"] == 1 and approval["requested_at"] and approval["approved_at"] is None
    assert next((s["name"], s["state"], s["required_approvals"], s["approvals"]) for s in approval["stages"]) == (
        "Technical review",
        "pending",
        1,
        0,
    )
    assert body["allowed_transitions"] == ["new", "canceled"]
    assert body["web_url"] == change.get_absolute_url()


def test_the_approval_shows_only_the_current_round_with_its_decisions(alice_api, alice, nina, network_team):
    change = submitted_change(alice, network_team)
    approvals.decide(change, user=nina, decision="rejected", comment="Do it after the audit.")
    change = change_services.transition(change, "assess", user=alice)
    change = change_services.transition(change, "authorize", user=alice)
    body = alice_api.get(url(change)).json()["approval"]
    assert body["round"] == 2
    assert [(s["name"], s["state"], s["decisions"]) for s in body["stages"]] == [("Technical review", "pending", [])]
    first = alice_api.get(f"{url(change, 'timeline')}?kind=approval").json()["results"]
    assert any("after the audit" in line["body"] for line in first)


def test_the_list_stays_at_a_constant_query_count_with_cis_incidents_and_stages(
    alice_api, alice, nina, network_team, django_assert_max_num_queries
):
    cis = CIFactory.create_batch(3)
    for n in range(12):
        incident = open_incident(alice, assignment_team=network_team)
        change = submitted_change(alice, network_team, affected_cis=cis[: n % 4], incidents=[incident])
        if n % 2:
            approvals.decide(change, user=nina, decision="approved")
    for page_size in (3, 12):
        with django_assert_max_num_queries(14):
            response = alice_api.get(CHANGES, {"page_size": page_size})
        results = response.json()["results"]
        assert len(results) == page_size
        assert all(len(item["incidents"]) == 1 and item["approval"]["stages"] for item in results)


def test_the_list_filters_by_state_type_risk_ci_and_search(alice_api, alice, maria, network_team):
    switch = CIFactory(name="core-sw-1")
    a = new_change(alice, title="Replace the core switch", affected_cis=[switch])
    b = new_change(alice, title="Rotate certificates", type="emergency")
    change_services.override_risk(b, user=maria, level="high", reason="Customer-facing.")

    def numbers(**params):
        response = alice_api.get(CHANGES, params)
        assert response.status_code == 200, response.content
        return {item["number"] for item in response.json()["results"]}

    assert numbers(type="emergency") == {b.number}
    assert numbers(risk="high") == {b.number}
    assert numbers(risk="low") == {a.number}
    assert numbers(ci=switch.pk) == {a.number}
    assert numbers(q="certificates") == {b.number}
    assert numbers(q=a.number) == {a.number}
    assert numbers(state="new") == {a.number, b.number}
    assert alice_api.get(CHANGES, {"state": "nonsense"}).status_code == 400


def test_the_queues_give_mine_my_teams_and_awaiting_my_approval(alice, bob, nina, network_team, make_api_client):
    new_change(alice, title="Mine")
    teams = new_change(bob, title="For the network team", assignment_team=network_team)
    awaiting = submitted_change(bob, network_team, title="Awaiting nina")
    done = new_change(alice, title="Done")
    change_services.transition(done, "canceled", user=alice, note="Not needed.")

    def titles(user, queue):
        response = make_api_client(user).get(CHANGES, {"queue": queue})
        return {item["title"] for item in response.json()["results"]}

    assert titles(alice, "mine") == {"Mine"}
    assert titles(nina, "team") == {teams.title, awaiting.title}
    assert titles(nina, "approvals") == {"Awaiting nina"}
    assert titles(alice, "approvals") == set()
    assert titles(alice, "open") == {"Mine", teams.title, awaiting.title}
    assert titles(alice, "all") == {"Mine", teams.title, awaiting.title, "Done"}


# --- creating and editing ---------------------------------------------------------------------


def test_creating_takes_names_and_answers_the_questionnaire(alice_api, alice, network_team):
    start, end = window()
    response = alice_api.post(
        CHANGES,
        {
            "title": "Upgrade switch firmware",
            "assignment_team": "Network",
            "assignee": "alice",
            "planned_start": start.isoformat(),
            "planned_end": end.isoformat(),
            "risk_answers": lowest_answers(),
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["type"], body["state"], body["assignee"]["username"]) == ("normal", "new", "alice")
    assert body["requester"]["id"] == alice.pk and body["opened_by"] == alice.pk
    assert body["risk"]["level"] == "low"
    assert response["ETag"]
    change = ChangeRequest.objects.get(pk=body["id"])
    assert change.risk_answers.count() == len(lowest_answers())


def test_a_standard_change_from_an_approved_template_copies_its_plans_and_skips_approvals(alice_api, network_team):
    template = TemplateFactory(name="Restart web node", assignment_team=network_team, risk_level="low")
    response = alice_api.post(CHANGES, {"title": "Restart web-03", "template": template.pk}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["type"] == "standard"
    assert body["template"] == {"id": template.pk, "key": template.key, "version": 1, "name": "Restart web node"}
    assert body["implementation_plan"] == template.implementation_plan
    assert body["assignment_team"]["name"] == "Network"
    assert body["allowed_transitions"] == ["scheduled", "canceled"]


def test_a_draft_template_is_refused_naming_the_template(alice_api):
    template = TemplateFactory(state="draft")
    before = written()
    response = alice_api.post(CHANGES, {"title": "x", "template": template.pk}, format="json")
    assert response.status_code == 400
    assert "template" in response.json()
    assert written() == before


def test_a_change_requested_for_incidents_takes_their_details_and_puts_them_on_hold(alice_api, alice, network_team):
    server = CIFactory(name="mail-01")
    first = open_incident(alice, title="Mail down", impact=1, urgency=1, affected_cis=[server])
    second = open_incident(alice, title="Mail slow")
    response = alice_api.post(CHANGES, {"incidents": [first.number, second.pk]}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["title"] == f"Fix for {first.number}: Mail down"
    assert body["type"] == "emergency"
    assert body["affected_cis"] == [{"id": server.pk, "name": "mail-01"}]
    assert {i["number"] for i in body["incidents"]} == {first.number, second.number}
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.state, first.hold_reason, second.state) == ("on_hold", "awaiting_change", "on_hold")


def test_requesting_a_change_for_incidents_needs_the_right_to_change_incidents(alice, make_api_client):
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    requester = UserFactory(username="ria")  # may request changes, may not touch incidents
    requester.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="changes", codename__in=["add_changerequest"])
    )
    incident = open_incident(alice, title="Mail down")
    client = make_api_client(requester)
    before = written()
    response = client.post(CHANGES, {"incidents": [incident.pk]}, format="json")
    assert response.status_code == 403
    assert written() == before
    incident.refresh_from_db()
    assert incident.state == "new"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"description": "No title"}, "title"),
        ({"title": "x", "type": "minor"}, "type"),
        ({"title": "x", "assignment_team": "No such team"}, "assignment_team"),
        ({"title": "x", "affected_cis": [999999]}, "affected_cis"),
        ({"title": "x", "state": "scheduled"}, "state"),
        ({"title": "x", "risk_override": "low"}, "risk_override"),
        ({"title": "x", "risk_answers": [999999]}, "risk_answers"),
        ({"title": "x", "incidents": ["INC9999999"]}, "incidents"),
        ({"title": "x", "planned_start": "tomorrow"}, "planned_start"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(alice_api, payload, field):
    before = written()
    response = alice_api.post(CHANGES, payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert written() == before


def test_a_planned_end_before_the_start_is_a_400_on_the_planned_end_and_writes_nothing(alice_api, alice):
    start, end = window()
    before = written()
    response = alice_api.post(
        CHANGES,
        {"title": "Backwards", "planned_start": end.isoformat(), "planned_end": start.isoformat()},
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()) == ["planned_end"]
    assert written() == before
    change = new_change(alice, planned_start=start, planned_end=end)
    before = written()
    response = alice_api.patch(url(change), {"planned_end": (start - timedelta(hours=1)).isoformat()}, format="json")
    assert response.status_code == 400
    assert "planned_end" in response.json()
    assert written() == before
    change.refresh_from_db()
    assert change.planned_end == end


def test_an_assignee_outside_the_team_is_a_400_naming_the_assignee(alice_api, bob, network_team):
    response = alice_api.post(CHANGES, {"title": "x", "assignment_team": "Network", "assignee": "bob"}, format="json")
    assert response.status_code == 400
    assert "assignee" in response.json()


def test_editing_the_schedule_after_approval_resets_the_approvals(alice_api, alice, nina, network_team):
    change = submitted_change(alice, network_team)
    approvals.decide(change, user=nina, decision="approved")
    change.refresh_from_db()
    assert change.state == ChangeState.SCHEDULED
    start, end = window(days=5)
    response = alice_api.patch(
        url(change), {"planned_start": start.isoformat(), "planned_end": end.isoformat()}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["state"] == "authorize"
    assert body["approval"]["round"] == 2 and body["approval"]["approved_at"] is None


def test_the_template_incidents_and_risk_answers_are_not_edited_through_patch(alice_api, alice):
    change = new_change(alice)
    incident = open_incident(alice)
    payload = {"incidents": [incident.pk], "template": TemplateFactory().pk, "risk_answers": lowest_answers()}
    response = alice_api.patch(url(change), payload, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"incidents", "template", "risk_answers"}
    assert "POST …/incidents/" in response.json()["incidents"][0]


def test_put_is_not_offered_patch_is(alice_api, alice):
    change = new_change(alice)
    assert alice_api.put(url(change), {"title": "x"}, format="json").status_code == 405


# --- transitions ------------------------------------------------------------------------------


def test_a_normal_change_goes_from_new_to_closed_through_the_api(alice_api, alice, nina, network_team, make_api_client):
    change = ready_change(alice, network_team)

    def move(client, state, **extra):
        response = client.post(url(change, "transition"), {"state": state, **extra}, format="json")
        assert response.status_code == 200, response.content
        return response.json()

    move(alice_api, "assess")
    assert move(alice_api, "authorize")["state"] == "authorize"
    response = make_api_client(nina).post(url(change, "approve"), {"decision": "approved"}, format="json")
    assert response.json()["state"] == "scheduled"
    assert move(alice_api, "implement")["actual_start"]
    body = move(alice_api, "closed", close_code="successful", close_notes="Done in 20 minutes.")
    assert (body["state"], body["close_code"], body["allowed_transitions"]) == ("closed", "successful", [])
    assert body["closed_at"]


def test_a_move_the_table_refuses_is_a_409_with_the_allowed_states_and_writes_nothing(alice_api, alice):
    change = new_change(alice)
    before = written()
    response = alice_api.post(url(change, "transition"), {"state": "implement"}, format="json")
    assert response.status_code == 409
    assert response.json()["allowed"] == ["assess", "canceled"]
    assert response.json()["state"] == "new"
    assert written() == before


def test_authorizing_without_plans_is_a_400_naming_each_missing_field(alice_api, alice):
    change = new_change(alice, implementation_plan="", backout_plan="")
    change_services.transition(change, "assess", user=alice)
    response = alice_api.post(url(change, "transition"), {"state": "authorize"}, format="json")
    assert response.status_code == 400
    assert {"implementation_plan", "backout_plan", "planned_start", "planned_end"} <= set(response.json())
    change.refresh_from_db()
    assert change.state == "assess"


def test_scheduling_before_approval_is_a_409_saying_what_it_awaits(alice_api, alice, network_team):
    change = submitted_change(alice, network_team)
    response = alice_api.post(url(change, "transition"), {"state": "scheduled"}, format="json")
    assert response.status_code == 409
    assert "Technical review" in response.json()["detail"]


def test_scheduling_into_a_blackout_without_justification_is_a_409_naming_the_window(
    alice_api, alice, erin, ecab, network_team, make_api_client
):
    start, end = window()
    BlackoutWindowFactory(name="Year-end freeze", start=start - timedelta(days=1), end=end + timedelta(days=1))
    change = submitted_change(alice, network_team, type="emergency")
    approvals.decide(change, user=erin, decision="approved")
    change.refresh_from_db()
    assert change.state == "authorize"  # the blackout held it back
    before = written()
    response = alice_api.post(url(change, "transition"), {"state": "scheduled"}, format="json")
    assert response.status_code == 409
    assert "Year-end freeze" in response.json()["detail"]
    assert written() == before
    response = alice_api.post(
        url(change, "transition"),
        {"state": "scheduled", "emergency_justification": "The outage costs more than the freeze protects."},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "scheduled"
    assert response.json()["emergency_justification"].startswith("The outage")


def test_canceling_needs_a_note_naming_the_note_field(alice_api, alice):
    change = new_change(alice)
    response = alice_api.post(url(change, "transition"), {"state": "canceled"}, format="json")
    assert response.status_code == 400
    assert "note" in response.json()


def test_a_viewer_cannot_move_a_change(victor_api, alice):
    change = new_change(alice)
    assert victor_api.post(url(change, "transition"), {"state": "assess"}, format="json").status_code == 403
    change.refresh_from_db()
    assert change.state == "new"


# --- incidents, notes, timeline, conflicts ----------------------------------------------------


def test_linking_unlinking_and_marking_a_cause(alice_api, alice):
    change = new_change(alice)
    incident = open_incident(alice, title="VPN flaps")
    response = alice_api.post(url(change, "incidents"), {"incident": incident.number}, format="json")
    assert response.status_code == 200, response.content
    assert [i["number"] for i in response.json()["incidents"]] == [incident.number]
    incident.refresh_from_db()
    assert incident.hold_reason == "awaiting_change"
    response = alice_api.post(url(change, "incidents"), {"incident": incident.pk, "unlink": True}, format="json")
    assert response.json()["incidents"] == []
    response = alice_api.post(url(change, "incidents"), {"incident": incident.pk, "relation": "caused"}, format="json")
    assert [i["id"] for i in response.json()["caused_incidents"]] == [incident.pk]
    listed = alice_api.get(url(change, "incidents")).json()
    assert (listed["incidents"], [i["id"] for i in listed["caused_incidents"]]) == ([], [incident.pk])


def test_an_unknown_incident_is_a_400_naming_the_incident(alice_api, alice):
    change = new_change(alice)
    response = alice_api.post(url(change, "incidents"), {"incident": "INC9999999"}, format="json")
    assert response.status_code == 400
    assert "incident" in response.json()


def test_notes_land_on_the_timeline_and_an_empty_one_is_a_400(alice_api, alice, victor_api):
    change = new_change(alice)
    response = alice_api.post(url(change, "notes"), {"body": "Vendor confirmed the window."}, format="json")
    assert response.status_code == 201, response.content
    assert (response.json()["kind"], response.json()["author_name"]) == ("note", "alice")
    assert alice_api.post(url(change, "notes"), {"body": "  "}, format="json").status_code == 400
    assert victor_api.post(url(change, "notes"), {"body": "Hi"}, format="json").status_code == 403
    lines = victor_api.get(url(change, "timeline"), {"kind": "note"}).json()["results"]
    assert [line["body"] for line in lines] == ["Vendor confirmed the window."]
    assert victor_api.get(url(change, "timeline"), {"kind": "gossip"}).status_code == 400


def test_conflicts_list_another_change_on_the_same_ci_and_a_blackout(alice_api, alice, bob, nina, network_team):
    switch = CIFactory(name="core-sw-1")
    start, end = window()
    other = submitted_change(bob, network_team, affected_cis=[switch], planned_start=start, planned_end=end)
    change = ready_change(alice, network_team, affected_cis=[switch], planned_start=start, planned_end=end)
    BlackoutWindowFactory(name="Audit week", start=start - timedelta(hours=1), end=end)
    body = alice_api.get(url(change, "conflicts")).json()
    assert {(c["kind"], c["change_number"] or c["blackout_name"]) for c in body} == {
        ("same_ci", other.number),
        ("blackout", "Audit week"),
    }
    later = alice_api.get(
        url(change, "conflicts"),
        {"start": (start + timedelta(days=30)).isoformat(), "end": (end + timedelta(days=30)).isoformat()},
    )
    assert later.json() == []
    assert alice_api.get(url(change, "conflicts"), {"start": "soon", "end": "later"}).status_code == 400


def test_a_read_only_token_reads_a_change_but_cannot_act_on_it(alice, network_team):
    change = new_change(alice, assignment_team=network_team)
    client = token_client(alice, write=False)
    assert client.get(url(change)).status_code == 200
    assert client.post(url(change, "transition"), {"state": "assess"}, format="json").status_code == 403
    assert client.post(url(change, "notes"), {"body": "x"}, format="json").status_code == 403


def test_a_patch_of_the_body_a_get_returned_changes_only_what_differs(alice_api, alice):
    change = new_change(alice, title="Old title")
    incident = open_incident(alice)
    change_services.mark_cause(change, incident, user=alice)
    body = alice_api.get(url(change)).json()
    body["title"] = "New title"
    response = alice_api.patch(url(change), body, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["title"], response.json()["state"]) == ("New title", "new")
    response = alice_api.patch(url(change), {"state": "assess", "requester": 999}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"state", "requester"}
