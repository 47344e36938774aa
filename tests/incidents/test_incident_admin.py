"""The incidents app in the admin console: managers browse and edit incidents, the priority
matrix, categories, problems and known errors — through the services — and other roles are
kept out."""

import pytest

from incidents.choices import TimelineKind
from incidents.models import Category, Incident, KnownError, PriorityRule, Problem
from incidents.services import incidents as services
from tests.factories import KnownErrorFactory, ProblemFactory, open_incident

pytestmark = pytest.mark.django_db

MODELS = ["incident", "priorityrule", "category", "problem", "knownerror"]


@pytest.mark.parametrize("model", MODELS)
def test_a_manager_opens_each_changelist_add_and_change_page(maria_client, maria, model):
    objects = {
        "incident": lambda: open_incident(maria),
        "priorityrule": lambda: PriorityRule.objects.first(),
        "category": lambda: Category.objects.create(name="Hardware"),
        "problem": lambda: ProblemFactory(),
        "knownerror": lambda: KnownErrorFactory(),
    }
    obj = objects[model]()
    services.add_comment(open_incident(maria), user=maria, body="A line for the inline")
    assert maria_client.get(f"/admin/incidents/{model}/").status_code == 200
    assert maria_client.get(f"/admin/incidents/{model}/{obj.pk}/change/").status_code == 200
    add = maria_client.get(f"/admin/incidents/{model}/add/")
    assert add.status_code == (403 if model == "priorityrule" else 200)  # the nine cells exist


@pytest.mark.parametrize("who", ["alice", "victor"])
def test_agents_and_viewers_are_kept_out(client, people, who):
    client.force_login(people[who])
    for model in MODELS:
        response = client.get(f"/admin/incidents/{model}/")
        assert response.status_code == 302 and "/admin/login/" in response["Location"], model


def incident_form(**fields):
    data = {
        "title": "Opened in the admin",
        "description": "",
        "impact": "2",
        "urgency": "2",
        "caller_contact": "",
        "timeline-TOTAL_FORMS": "0",
        "timeline-INITIAL_FORMS": "0",
        "attachments-TOTAL_FORMS": "0",
        "attachments-INITIAL_FORMS": "0",
    }
    data.update(fields)
    return data


def test_an_incident_added_in_the_admin_is_opened_by_the_service(maria_client, maria, network_team, alice):
    response = maria_client.post(
        "/admin/incidents/incident/add/",
        incident_form(assignment_team=str(network_team.pk), assignee=str(alice.pk)),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    incident = Incident.objects.get(title="Opened in the admin")
    assert (incident.priority, incident.opened_by, incident.assignee) == (3, maria, alice)
    assert incident.timeline.filter(kind=TimelineKind.STATE).exists()  # the service's first line


def test_an_admin_edit_outside_the_rules_shows_the_error_and_writes_nothing(maria_client, maria, bob, network_team):
    incident = open_incident(maria, title="Keep me", assignment_team=network_team)
    data = incident_form(title="Changed", assignment_team=str(network_team.pk), assignee=str(bob.pk))
    response = maria_client.post(f"/admin/incidents/incident/{incident.pk}/change/", data)
    assert response.status_code == 200
    assert "bob is not a member of Network" in response.content.decode()
    incident.refresh_from_db()
    assert (incident.title, incident.assignee) == ("Keep me", None)


def test_an_admin_edit_recomputes_the_priority(maria_client, maria):
    incident = open_incident(maria, impact=3, urgency=3)
    response = maria_client.post(
        f"/admin/incidents/incident/{incident.pk}/change/", incident_form(title=incident.title, impact="1", urgency="1")
    )
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.priority == 1
    assert incident.timeline.filter(kind=TimelineKind.PRIORITY).exists()


def test_managers_change_the_priority_matrix_and_new_incidents_follow_it(maria_client, maria):
    rule = PriorityRule.objects.get(impact=3, urgency=3)
    response = maria_client.post(f"/admin/incidents/priorityrule/{rule.pk}/change/", {"priority": "4"})
    assert response.status_code == 302
    assert services.priority_for(3, 3) == 4
    assert open_incident(maria, impact=3, urgency=3).priority == 4


def test_a_removed_cell_falls_back_to_the_itil_default(maria):
    PriorityRule.objects.filter(impact=1, urgency=1).delete()
    assert services.priority_for(1, 1) == 1


def test_a_problem_and_a_known_error_added_in_the_admin_go_through_their_services(maria_client):
    response = maria_client.post(
        "/admin/incidents/problem/add/",
        {
            "title": "Recurring VPN drops",
            "description": "",
            "priority": "2",
            "root_cause": "MTU mismatch",
            "timeline-TOTAL_FORMS": "0",
            "timeline-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    problem = Problem.objects.get(title="Recurring VPN drops")
    assert problem.number.startswith("PRB") and problem.root_cause == "MTU mismatch"
    response = maria_client.post(
        "/admin/incidents/knownerror/add/",
        {"title": "VPN drops", "symptom": "Tunnels reset hourly", "root_cause": "", "workaround": "", "active": "on"},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert KnownError.objects.get(title="VPN drops").number.startswith("KE")


def test_the_incident_changelist_stays_at_a_bounded_query_count(maria_client, maria, django_assert_max_num_queries):
    for _ in range(30):
        open_incident(maria)
    with django_assert_max_num_queries(15):
        assert maria_client.get("/admin/incidents/incident/").status_code == 200
