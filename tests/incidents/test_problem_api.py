"""``/api/v1/problems/``: the generic endpoint tests, then the actions (transition, workaround,
link and unlink incidents, known error, notes, timeline, incidents, from-incidents), bad input
(400 naming the field, 409 with the allowed states, nothing written), who may do what, filters
and the list's query count."""

import pytest

from incidents.api.problems import ProblemViewSet
from incidents.choices import ProblemState, TimelineKind
from incidents.models import Incident, KnownError, Problem, ProblemTimelineEntry, TimelineEntry
from incidents.services import problems as services
from itom.models import Notification
from tests.api_testing import APIEndpointTests
from tests.conftest import token_client
from tests.factories import CIFactory, IncidentFactory, ProblemFactory, TeamFactory

pytestmark = pytest.mark.django_db

P = ProblemState
PROBLEMS = "/api/v1/problems/"
AGENTS_AND_UP = ("alice", "bob", "maria", "root")


def url(problem, action=""):
    return f"{PROBLEMS}{problem.pk}/{action + '/' if action else ''}"


class TestProblemAPI(APIEndpointTests):
    viewset = ProblemViewSet
    url_name = "api:problem"
    make_object = staticmethod(lambda: ProblemFactory())
    create_data = {"title": "Disks fill up on the log hosts", "priority": 2}
    update_data = {"title": "Disks fill up nightly", "root_cause": "Log rotation is off."}
    invalid_data = {"priority": 9}
    writers = AGENTS_AND_UP


# --- Create and update ------------------------------------------------------------------------


def test_a_problem_is_created_with_cis_and_incidents_by_id_or_number(alice_api, alice, network_team):
    ci = CIFactory()
    first, second = IncidentFactory(), IncidentFactory()
    response = alice_api.post(
        PROBLEMS,
        {
            "title": "Flapping uplink",
            "assignment_team": network_team.pk,
            "assignee": alice.pk,
            "affected_cis": [ci.pk],
            "incidents": [str(first.pk), second.number],
            "root_cause": "Known from the start.",
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["number"].startswith("PRB") and body["state"] == "new"
    assert body["incident_count"] == 2 and body["affected_cis"] == [ci.pk]
    assert body["allowed_transitions"] == ["assess", "root_cause_analysis", "closed"]
    assert body["opened_by"] == alice.pk and body["web_url"] == f"/problems/{body['id']}/"
    assert "incidents" not in body  # write-only
    assert body["root_cause"] == "Known from the start."
    assert set(Incident.objects.filter(problem_id=body["id"])) == {first, second}


@pytest.mark.parametrize(
    ("payload", "field", "words"),
    [
        ({"assignee": "bob"}, "assignee", "Incorrect type"),
        ({"incidents": ["INC9999999"]}, "incidents", "No incident numbered INC9999999"),
        ({"incidents": ["nope"]}, "incidents", "is not an incident id or number"),
        ({"state": "closed"}, "state", "transition"),
        ({"workaround": "x"}, "workaround", "workaround/"),
        ({"title": ""}, "title", "blank"),
        ({"affected_cis": [999999]}, "affected_cis", "does not exist"),
    ],
)
def test_bad_input_on_create_is_a_400_naming_the_field_and_writes_nothing(alice_api, payload, field, words):
    response = alice_api.post(PROBLEMS, {"title": "Fine"} | payload)
    assert response.status_code == 400, response.content
    assert words in str(response.json()[field])
    assert not Problem.objects.exists()


def test_an_assignee_outside_the_team_is_a_400_naming_assignee(alice_api, bob, network_team):
    response = alice_api.post(PROBLEMS, {"title": "X", "assignment_team": network_team.pk, "assignee": bob.pk})
    assert response.status_code == 400
    assert response.json() == {"assignee": ["bob is not a member of Network."]}
    assert not Problem.objects.exists()


def test_an_update_may_not_touch_state_workaround_or_incidents(alice_api):
    problem = ProblemFactory(title="Before")
    for field in ("state", "workaround", "incidents"):
        response = alice_api.patch(url(problem), {"title": "After", field: ["1"] if field == "incidents" else "x"})
        assert response.status_code == 400 and field in response.json(), response.content
    problem.refresh_from_db()
    assert problem.title == "Before"


def test_a_closed_problem_answers_409_to_an_edit(alice_api):
    problem = ProblemFactory(state=P.CLOSED, title="Before")
    response = alice_api.patch(url(problem), {"title": "After"})
    assert response.status_code == 409
    assert "closed" in response.json()["detail"]
    problem.refresh_from_db()
    assert problem.title == "Before"


# --- Transitions ------------------------------------------------------------------------------


def test_a_transition_moves_the_problem_and_answers_it(alice_api):
    problem = ProblemFactory(state=P.ASSESS)
    response = alice_api.post(url(problem, "transition"), {"state": "root_cause_analysis", "note": "Looking."})
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "root_cause_analysis"
    assert response.json()["allowed_transitions"] == ["fix_in_progress", "resolved", "closed"]
    assert response["ETag"]
    assert ProblemTimelineEntry.objects.get(problem=problem).body == "Looking."


def test_a_move_the_table_refuses_is_a_409_with_the_allowed_states(alice_api):
    problem = ProblemFactory(state=P.NEW)
    response = alice_api.post(url(problem, "transition"), {"state": "resolved"})
    assert response.status_code == 409
    body = response.json()
    assert body["state"] == "new" and body["requested"] == "resolved"
    assert body["allowed"] == ["assess", "root_cause_analysis", "closed"]
    problem.refresh_from_db()
    assert problem.state == P.NEW and not ProblemTimelineEntry.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [({"state": "fixed"}, "state"), ({}, "state"), ({"state": "fix_in_progress"}, "root_cause")],
)
def test_a_bad_transition_is_a_400_naming_the_reason(alice_api, payload, field):
    problem = ProblemFactory(state=P.ROOT_CAUSE_ANALYSIS)
    response = alice_api.post(url(problem, "transition"), payload)
    assert response.status_code == 400
    assert field in response.json()
    problem.refresh_from_db()
    assert problem.state == P.ROOT_CAUSE_ANALYSIS


def test_a_stale_if_match_on_a_transition_is_a_412(alice_api):
    problem = ProblemFactory(state=P.NEW)
    response = alice_api.post(url(problem, "transition"), {"state": "assess"}, HTTP_IF_MATCH='"0-0"')
    assert response.status_code == 412
    problem.refresh_from_db()
    assert problem.state == P.NEW


# --- Workaround, links, known error, notes ------------------------------------------------------


def test_a_workaround_reaches_the_open_incidents_and_notifies(alice_api, bob):
    problem = ProblemFactory(state=P.ASSESS)
    open_one = IncidentFactory(problem=problem, state="in_progress", assignee=bob)
    IncidentFactory(problem=problem, state="resolved", assignee=bob)
    response = alice_api.post(url(problem, "workaround"), {"workaround": "Fail over to site B."})
    assert response.status_code == 200, response.content
    assert response.json()["workaround"] == "Fail over to site B."
    [note] = TimelineEntry.objects.filter(kind=TimelineKind.WORK_NOTE)
    assert note.incident == open_one and note.body.endswith("Fail over to site B.")
    assert Notification.objects.filter(event="problem.workaround", recipient=bob).count() == 1


def test_a_blank_workaround_is_a_400_and_changes_nothing(alice_api):
    problem = ProblemFactory(state=P.ASSESS, workaround="Old one.")
    for payload in ({"workaround": "   "}, {}):
        response = alice_api.post(url(problem, "workaround"), payload)
        assert response.status_code == 400 and "workaround" in response.json()
    problem.refresh_from_db()
    assert problem.workaround == "Old one."


def test_incidents_are_linked_and_unlinked_by_id_or_number(alice_api):
    problem = ProblemFactory()
    first, second = IncidentFactory(), IncidentFactory()
    linked = alice_api.post(url(problem, "link-incidents"), {"incidents": [first.number, second.pk]})
    assert linked.status_code == 200, linked.content
    assert linked.json()["incident_count"] == 2
    listed = alice_api.get(url(problem, "incidents")).json()
    assert {row["number"] for row in listed["results"]} == {first.number, second.number}
    unlinked = alice_api.post(url(problem, "unlink-incident"), {"incident": first.number})
    assert unlinked.status_code == 200 and unlinked.json()["incident_count"] == 1
    again = alice_api.post(url(problem, "unlink-incident"), {"incident": first.pk})
    assert again.status_code == 400 and "is not linked" in again.json()["incident"][0]
    missing = alice_api.post(url(problem, "unlink-incident"), {"incident": 999999})
    assert missing.status_code == 400 and missing.json() == {"incident": ["No incident with id 999999."]}


def test_linking_an_incident_of_another_open_problem_is_a_400_and_links_none(alice_api, alice):
    other = services.create_problem(user=alice, title="Other")
    taken, free = IncidentFactory(problem=other), IncidentFactory()
    problem = ProblemFactory()
    response = alice_api.post(url(problem, "link-incidents"), {"incidents": [free.pk, taken.pk]})
    assert response.status_code == 400
    assert other.number in response.json()["incidents"][0]
    free.refresh_from_db()
    assert free.problem is None
    empty = alice_api.post(url(problem, "link-incidents"), {"incidents": []})
    assert empty.status_code == 400 and empty.json() == {"incidents": ["Pick at least one incident."]}


def test_a_known_error_is_recorded_once_from_a_problem_with_a_root_cause(alice_api):
    problem = ProblemFactory(state=P.ROOT_CAUSE_ANALYSIS, description="Pages 502 after deploys.")
    needs_cause = alice_api.post(url(problem, "known-error"))
    assert needs_cause.status_code == 400 and "root_cause" in needs_cause.json()
    Problem.objects.filter(pk=problem.pk).update(root_cause="Workers start before the cache warms.")
    made = alice_api.post(url(problem, "known-error"))
    assert made.status_code == 201, made.content
    body = made.json()
    assert body["number"].startswith("KE") and body["problem"] == problem.pk
    assert body["symptom"] == "Pages 502 after deploys." and body["root_cause"].startswith("Workers")
    again = alice_api.post(url(problem, "known-error"))
    assert again.status_code == 409 and body["number"] in again.json()["detail"]
    assert KnownError.objects.count() == 1
    detail = alice_api.get(url(problem)).json()
    assert detail["known_errors"] == [
        {"id": body["id"], "number": body["number"], "title": problem.title, "active": True}
    ]


def test_notes_go_on_the_timeline_which_lists_every_entry(alice_api, alice):
    problem = ProblemFactory(state=P.NEW)
    assert alice_api.post(url(problem, "notes"), {"body": "  "}).status_code == 400
    note = alice_api.post(url(problem, "notes"), {"body": "Seen on three hosts."})
    assert note.status_code == 201 and note.json()["author_name"] == "alice"
    alice_api.post(url(problem, "transition"), {"state": "assess"})
    timeline = alice_api.get(url(problem, "timeline")).json()
    assert [e["kind"] for e in timeline["results"]] == ["note", "state"]
    assert timeline["results"][1]["data"] == {"from": "new", "to": "assess"}


# --- From incidents ---------------------------------------------------------------------------


def test_from_incidents_opens_a_problem_for_them(alice_api, network_team):
    first = IncidentFactory(title="VPN drops", priority=2, assignment_team=network_team)
    second = IncidentFactory(title="VPN slow", priority=3)
    response = alice_api.post(f"{PROBLEMS}from-incidents/", {"incidents": [second.pk, first.number]})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["title"] == "VPN drops (+1 related incident)"
    assert body["priority"] == 2 and body["assignment_team"] == network_team.pk and body["incident_count"] == 2
    titled = alice_api.post(
        f"{PROBLEMS}from-incidents/", {"incidents": [IncidentFactory().pk], "title": "Named by hand"}
    )
    assert titled.json()["title"] == "Named by hand"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"incidents": []}, "Pick at least one incident."),
        ({"incidents": [123456]}, "No incident with id 123456."),
        ({"incidents": "1"}, 'Expected a list of items but got type "str".'),
        ({}, "This field is required."),
    ],
)
def test_from_incidents_refuses_bad_input_with_a_400_and_writes_nothing(alice_api, payload, message):
    response = alice_api.post(f"{PROBLEMS}from-incidents/", payload)
    assert response.status_code == 400
    assert response.json() == {"incidents": [message]}
    assert not Problem.objects.exists()


# --- Who may do what --------------------------------------------------------------------------


def test_a_viewer_reads_but_may_not_act(victor_api):
    problem = ProblemFactory(state=P.NEW)
    incident = IncidentFactory()
    assert victor_api.get(url(problem, "timeline")).status_code == 200
    assert victor_api.get(url(problem, "incidents")).status_code == 200
    attempts = [
        (url(problem, "transition"), {"state": "assess"}),
        (url(problem, "workaround"), {"workaround": "x"}),
        (url(problem, "link-incidents"), {"incidents": [incident.pk]}),
        (url(problem, "unlink-incident"), {"incident": incident.pk}),
        (url(problem, "known-error"), {}),
        (url(problem, "notes"), {"body": "x"}),
        (f"{PROBLEMS}from-incidents/", {"incidents": [incident.pk]}),
    ]
    for path, payload in attempts:
        assert victor_api.post(path, payload).status_code == 403, path
    problem.refresh_from_db()
    assert problem.state == P.NEW and Problem.objects.count() == 1
    assert not ProblemTimelineEntry.objects.exists() and not KnownError.objects.exists()


def test_a_read_only_token_may_not_act(alice):
    problem = ProblemFactory(state=P.NEW)
    client = token_client(alice, write=False)
    response = client.post(url(problem, "transition"), {"state": "assess"})
    assert response.status_code == 403 and "read-only" in response.json()["detail"]


def test_linking_needs_the_permission_to_change_incidents_too(alice):
    from django.contrib.auth.models import Permission

    problem = ProblemFactory()
    incident = IncidentFactory()
    alice.groups.clear()
    alice.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="incidents", codename__in=["view_problem", "change_problem", "add_problem"]
        )
    )
    client = token_client(alice)
    assert client.post(url(problem, "link-incidents"), {"incidents": [incident.pk]}).status_code == 403
    assert client.post(f"{PROBLEMS}from-incidents/", {"incidents": [incident.pk]}).status_code == 403
    assert client.post(url(problem, "known-error")).status_code == 403  # needs add_knownerror
    incident.refresh_from_db()
    assert incident.problem is None


def test_anonymous_callers_may_not_act(anon):
    problem = ProblemFactory()
    assert anon.post(url(problem, "transition"), {"state": "assess"}, format="json").status_code in (401, 403)
    assert anon.post(f"{PROBLEMS}from-incidents/", {"incidents": [1]}, format="json").status_code in (401, 403)


# --- Filters and cost -------------------------------------------------------------------------


def test_filters_open_state_priority_team_ci_incident_and_word_search(alice_api, network_team):
    ci = CIFactory()
    disk = ProblemFactory(title="Disk full", state=P.ASSESS, priority=2, assignment_team=network_team)
    disk.affected_cis.add(ci)
    memory = ProblemFactory(title="Memory leak", state=P.RESOLVED, priority=4, root_cause="Cache never evicts")
    closed = ProblemFactory(title="Old", state=P.CLOSED)
    incident = IncidentFactory(problem=memory)

    def numbers(**query):
        response = alice_api.get(PROBLEMS, query)
        assert response.status_code == 200, response.content
        return {row["number"] for row in response.json()["results"]}

    assert numbers(open="true") == {disk.number}
    assert numbers(open="false") == {memory.number, closed.number}
    assert numbers(state=["resolved", "closed"]) == {memory.number, closed.number}
    assert numbers(priority=2) == {disk.number}
    assert numbers(assignment_team=network_team.pk) == {disk.number}
    assert numbers(ci=ci.pk) == {disk.number}
    assert numbers(incident=incident.pk) == {memory.number}
    assert numbers(q="cache evicts") == {memory.number}
    assert numbers(q=disk.number.lower()) == {disk.number}
    assert alice_api.get(PROBLEMS, {"state": "nonsense"}).status_code == 400
    by_count = alice_api.get(PROBLEMS, {"ordering": "-incident_count"}).json()["results"]
    assert by_count[0]["number"] == memory.number


def test_the_list_costs_the_same_queries_at_any_size(alice_api, django_assert_max_num_queries):
    team = TeamFactory(name="Ops")
    for n in range(30):
        problem = ProblemFactory(assignment_team=team)
        problem.affected_cis.add(CIFactory())
        IncidentFactory(problem=problem)
        if n % 3 == 0:
            KnownError.objects.create(title=f"KE {n}", symptom="s", problem=problem)
    with django_assert_max_num_queries(8):
        response = alice_api.get(PROBLEMS, {"page_size": 30})
    assert response.status_code == 200 and len(response.json()["results"]) == 30
    assert all(row["incident_count"] == 1 for row in response.json()["results"])
