"""The incident queue and form with Django's client: tabs (the filterset's ``queue``), filters,
CSV, constant queries, the bulk bar (assign, state change, refusals listed), the form (priority
from the matrix, live preview, assignee list following the team, CI picks, bad input on the
form with nothing written), and who may see and write what."""

import csv
import io
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents.models import Incident, PriorityRule, TimelineEntry
from incidents.services import incidents as services
from slas.models import BusinessCalendar
from tests.factories import CIFactory, UserFactory, ci_class, link, sla_policy

pytestmark = pytest.mark.django_db

LIST = "/incidents/"
ADD = "/incidents/add/"


@pytest.fixture
def policy(db):
    """Every incident gets clocks: a 24 × 7 calendar, so the figures don't hang on the hour."""
    calendar = BusinessCalendar.objects.create(name="24 × 7", always_open=True, time_zone="Europe/Paris")
    return sla_policy(name="Round the clock", calendar=calendar)


def open_incident(user, **fields):
    fields.setdefault("title", "Mail is down")
    return services.create_incident(user=user, **fields)


def numbers_in(response):
    return [obj.number for obj, _ in response.context["rows"]]


def count_queries(client, url, data=None, **headers):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, data or {}, **headers)
    assert response.status_code == 200
    return len(queries), response


def messages_of(response):
    return [str(m) for m in response.context["messages"]]


# Access ----------------------------------------------------------------------------------------
def test_anonymous_visitors_are_sent_to_sign_in(client):
    for url in (LIST, ADD, "/incidents/priority/?impact=1&urgency=1"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(f"/login/?next={url.split('?')[0]}")


def test_a_viewer_reads_the_queue_without_write_controls(client, victor, alice, network_team):
    incident = open_incident(alice, assignment_team=network_team)
    client.force_login(victor)
    response = client.get(LIST)
    body = response.content.decode()
    assert numbers_in(response) == [incident.number]
    assert response.context["bulk_form"] is None
    assert 'id="bulk-form"' not in body and 'name="ids"' not in body
    assert "New incident" not in body
    assert client.get(ADD).status_code == 403
    assert client.post(ADD, {"title": "x", "impact": 3, "urgency": 3}).status_code == 403
    assert client.post("/incidents/bulk/", {"ids": [incident.pk], "action": "assign"}).status_code == 403


def test_the_navigation_shows_incidents_to_everyone_who_may_read_them(alice_client):
    body = alice_client.get("/").content.decode()
    assert 'href="/incidents/"' in body


# Queue tabs and filters ------------------------------------------------------------------------
def test_the_queue_opens_on_all_open_and_the_all_tab_adds_closed_ones(alice_client, alice, network_team):
    live = open_incident(alice, title="Live")
    done = open_incident(alice, title="Done")
    services.transition(done, "canceled", user=alice, note="Duplicate")
    response = alice_client.get(LIST)
    assert numbers_in(response) == [live.number]
    tabs = {label: active for _, label, active in response.context["queues"]}
    assert list(tabs) == ["My work", "My team's", "Unassigned", "Breaching soon", "All open", "All"]
    assert tabs["All open"] and sum(tabs.values()) == 1
    everything = alice_client.get(LIST, {"queue": ""})
    assert sorted(numbers_in(everything)) == sorted([live.number, done.number])
    assert [label for _, label, active in everything.context["queues"] if active] == ["All"]


def test_the_tabs_show_my_work_my_teams_unassigned_and_breaching(
    alice_client, alice, bob, network_team, database_team, policy
):
    mine = open_incident(alice, title="Mine", assignment_team=network_team, assignee=alice)
    team = open_incident(alice, title="Team", assignment_team=network_team)
    other = open_incident(alice, title="Other", assignment_team=database_team, assignee=bob)
    urgent = open_incident(alice, title="Urgent", impact=1, urgency=1, assignment_team=database_team)

    def tab(name):
        return sorted(numbers_in(alice_client.get(LIST, {"queue": name})))

    assert tab("mine") == [mine.number]
    assert tab("my_teams") == sorted([mine.number, team.number])
    assert tab("unassigned") == sorted([team.number, urgent.number])
    # The P1's response is due within the hour (15 minutes); the P5s' are hours away.
    assert tab("breaching") == [urgent.number]
    assert other.number not in tab("mine")
    # Four hours on the scan finds it breached: still there, and none of the others yet.
    from slas.services import scan

    scan(now=timezone.now() + timedelta(hours=4))
    assert urgent.sla_clocks.filter(metric="response", breached_at__isnull=False).exists()
    assert tab("breaching") == [urgent.number]


def test_filters_search_and_sort_narrow_the_queue(alice_client, alice, network_team):
    high = open_incident(alice, title="Payroll export fails", impact=1, urgency=1, assignment_team=network_team)
    low = open_incident(alice, title="Printer toner", impact=3, urgency=3)
    assert numbers_in(alice_client.get(LIST, {"priority": 1})) == [high.number]
    assert numbers_in(alice_client.get(LIST, {"q": "toner"})) == [low.number]
    assert numbers_in(alice_client.get(LIST, {"assignment_team": network_team.pk})) == [high.number]
    assert numbers_in(alice_client.get(LIST, {"sort": "priority"})) == [high.number, low.number]
    assert numbers_in(alice_client.get(LIST, {"sort": "-priority"})) == [low.number, high.number]


def test_the_apis_other_filters_work_from_a_link_and_survive_the_filter_form(alice_client, alice):
    old = open_incident(alice, title="Old one")
    Incident.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=30))
    new = open_incident(alice, title="New one")
    since = (timezone.now() - timedelta(days=1)).isoformat()
    response = alice_client.get(LIST, {"created_after": since})
    assert numbers_in(response) == [new.number]
    body = response.content.decode()
    # Carried as hidden fields, so a search from the form keeps it.
    assert 'name="created_after"' in body and 'name="created_before"' in body
    assert numbers_in(alice_client.get(LIST, {"created_after": since, "created_before": "", "q": "one"})) == [
        new.number
    ]


def test_an_htmx_filter_answers_the_table_only(alice_client, alice):
    incident = open_incident(alice)
    body = alice_client.get(LIST, {"q": "mail"}, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in body
    assert incident.number in body
    assert 'id="export-csv"' in body and 'hx-swap-oob="true"' in body


def test_the_queue_exports_every_matching_row_as_csv(alice_client, alice, network_team, policy):
    incident = open_incident(alice, title="=cmd|' /C calc'!A0", assignment_team=network_team)
    response = alice_client.get(LIST, {"export": "csv"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["Number", "Title", "Priority", "State", "Team", "Assignee", "SLA due", "Updated"]
    assert rows[1][0] == incident.number
    assert rows[1][1].startswith("'=")  # a formula is neutralised
    assert rows[1][4] == "Network"
    assert rows[1][6]  # the response clock's due time


def test_the_queue_runs_a_constant_number_of_queries_whatever_the_page_size(alice_client, alice, network_team, policy):
    cis = [CIFactory(name=f"app-{i}") for i in range(3)]
    for i in range(30):
        open_incident(alice, title=f"Incident {i}", assignment_team=network_team, assignee=alice, affected_cis=cis)
    small, _ = count_queries(alice_client, LIST, {"per_page": 5})
    large, response = count_queries(alice_client, LIST, {"per_page": 30})
    assert len(response.context["rows"]) == 30
    assert small == large
    assert large <= 10


def test_the_rows_show_priority_state_and_sla_badges(alice_client, alice, policy):
    open_incident(alice, impact=1, urgency=1)
    body = alice_client.get(LIST).content.decode()
    assert 'data-priority="1"' in body and 'data-state="new"' in body
    row = alice_client.get(LIST).context["rows"][0][0]
    assert row.headline_clock is not None and row.headline_clock.metric == "response"


# Bulk bar --------------------------------------------------------------------------------------
def test_bulk_assign_assigns_every_ticked_incident(alice_client, alice, network_team):
    first, second = open_incident(alice), open_incident(alice)
    response = alice_client.post(
        "/incidents/bulk/",
        {
            "ids": [first.pk, second.pk],
            "action": "assign",
            "assignment_team": network_team.pk,
            "assignee": alice.pk,
            "next": "/incidents/?queue=mine",
        },
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/incidents/?queue=mine"
    assert "Assigned 2 incidents to alice." in messages_of(response)
    assert set(Incident.objects.values_list("assignee", flat=True)) == {alice.pk}
    assert sorted(numbers_in(response)) == sorted([first.number, second.number])


def test_bulk_state_change_reports_the_incidents_it_could_not_move(alice_client, alice):
    live, closed = open_incident(alice), open_incident(alice)
    services.transition(closed, "canceled", user=alice, note="Opened twice")
    response = alice_client.post(
        "/incidents/bulk/",
        {"ids": [live.pk, closed.pk], "action": "transition", "state": "on_hold", "hold_reason": "awaiting_vendor"},
        follow=True,
    )
    texts = messages_of(response)
    assert "Moved 1 incident to on hold." in texts
    assert any(text.startswith(f"{closed.number}: ") and "allowed" in text for text in texts)
    live.refresh_from_db()
    assert live.state == "on_hold" and live.hold_reason == "awaiting_vendor"


def test_bulk_bad_input_is_said_and_nothing_is_written(alice_client, alice, bob, network_team):
    incident = open_incident(alice)
    cases = [
        ({"action": "transition", "state": "on_hold"}, "Putting an incident on hold needs a reason"),
        ({"action": "transition", "state": "resolved", "resolution_code": "solved"}, "resolution notes"),
        ({"action": "transition"}, "Pick the new state."),
        ({"action": "assign"}, "Pick the team to assign to."),
        ({"action": "assign", "assignment_team": network_team.pk, "assignee": bob.pk}, "not a member of Network"),
        ({"action": "transition", "state": "flying"}, "flying"),
    ]
    for data, expected in cases:
        response = alice_client.post("/incidents/bulk/", {"ids": [incident.pk], **data}, follow=True)
        texts = " ".join(messages_of(response))
        assert expected in texts, (data, texts)
    no_ids = alice_client.post(
        "/incidents/bulk/", {"action": "assign", "assignment_team": network_team.pk}, follow=True
    )
    assert "Tick at least one incident." in " ".join(messages_of(no_ids))
    bad_ids = alice_client.post("/incidents/bulk/", {"ids": ["x1"], "action": "assign"}, follow=True)
    assert "x1 is not an incident id." in " ".join(messages_of(bad_ids))
    incident.refresh_from_db()
    assert incident.state == "new" and incident.assignment_team is None and incident.assignee is None
    assert TimelineEntry.objects.filter(incident=incident).count() == 1  # the opening line only


def test_bulk_next_may_not_leave_the_site(alice_client, alice, network_team):
    incident = open_incident(alice)
    response = alice_client.post(
        "/incidents/bulk/",
        {"ids": [incident.pk], "action": "assign", "assignment_team": network_team.pk, "next": "https://evil.example/"},
    )
    assert response["Location"] == "/incidents/"


def test_create_problem_from_the_ticked_incidents(alice_client, alice):
    first, second = open_incident(alice, title="VPN drops"), open_incident(alice, title="VPN drops again")
    body = alice_client.get(LIST).content.decode()
    assert 'formaction="/problems/from-incidents/"' in body
    # The bar's form posts its ticked ids there (the button's formaction).
    response = alice_client.post("/problems/from-incidents/", {"ids": [first.pk, second.pk]})
    assert response.status_code == 302
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.problem is not None and first.problem == second.problem


# Form ------------------------------------------------------------------------------------------
def test_an_agent_opens_an_incident_and_its_priority_comes_from_the_matrix(alice_client, alice, network_team, policy):
    shop = CIFactory(name="Online shop", ci_class=ci_class("business-service"))
    db = CIFactory(name="shop-db", ci_class=ci_class("database"))
    link(shop, db)  # the shop depends on its database
    PriorityRule.objects.filter(impact=2, urgency=1).update(priority=1)  # managers made it stricter
    response = alice_client.post(
        ADD,
        {
            "title": "  Checkout times out  ",
            "description": "Customers get a 504.",
            "impact": 2,
            "urgency": 1,
            "assignment_team": network_team.pk,
            "assignee": alice.pk,
            "affected_cis": [db.pk],
            "caller_contact": "Sam, +33 1 23 45 67 89",
            "watchers": [alice.pk],
        },
    )
    incident = Incident.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/incidents/{incident.pk}/"
    assert incident.title == "Checkout times out"
    assert incident.priority == 1 and incident.source == "manual" and incident.opened_by == alice
    assert incident.assignee == alice and incident.assignment_team == network_team
    assert list(incident.affected_services.values_list("name", flat=True)) == ["Online shop"]
    assert incident.sla_clocks.count() == 2
    detail = alice_client.get(response["Location"]).content.decode()
    assert "Saved incident" in detail and "Online shop" in detail and "shop-db" in detail


@pytest.mark.parametrize(
    ("changes", "field", "text"),
    [
        ({"impact": "7"}, "impact", "Select a valid choice"),
        ({"title": ""}, "title", "This field is required"),
        ({"assignee": "bob"}, "assignee", "not a member of Network"),
        ({"affected_cis": ["999999"]}, "affected_cis", "Select a valid choice"),
        ({"title": "x" * 201}, "title", "at most 200 characters"),
    ],
)
def test_bad_input_is_shown_on_the_form_and_nothing_is_written(alice_client, bob, network_team, changes, field, text):
    data = {"title": "Disk full", "impact": 2, "urgency": 2, "assignment_team": network_team.pk}
    data.update({key: (bob.pk if value == "bob" else value) for key, value in changes.items()})
    response = alice_client.post(ADD, data)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors and text in " ".join(errors[field]), errors
    assert text in response.content.decode().replace("&#x27;", "'")
    assert not Incident.objects.exists() and not TimelineEntry.objects.exists()


def test_a_bad_form_keeps_the_picked_cis_and_the_priority(alice_client):
    ci = CIFactory(name="mail-01")
    response = alice_client.post(ADD, {"title": "", "impact": 1, "urgency": 2, "affected_cis": [ci.pk]})
    assert [c.name for c in response.context["chosen_cis"]] == ["mail-01"]
    assert response.context["priority"] == 2
    body = response.content.decode()
    assert f'name="affected_cis" value="{ci.pk}"' in body


def test_the_priority_preview_follows_the_matrix_and_names_a_bad_value(alice_client):
    response = alice_client.get("/incidents/priority/", {"impact": 1, "urgency": 1}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and 'data-priority="1"' in response.content.decode()
    PriorityRule.objects.filter(impact=3, urgency=3).update(priority=4)
    assert 'data-priority="4"' in alice_client.get("/incidents/priority/", {"impact": 3, "urgency": 3}).content.decode()
    bad = alice_client.get("/incidents/priority/", {"impact": 7, "urgency": 1})
    assert bad.status_code == 400 and "impact" in bad.content.decode()


def test_the_form_asks_for_the_priority_and_assignees_with_htmx(alice_client, alice, network_team):
    form = alice_client.get(ADD).content.decode()
    assert 'hx-get="/incidents/priority/"' in form and 'hx-get="/incidents/assignees/"' in form
    assert 'id="incident-priority"' in form and 'data-priority="5"' in form  # 3 × 3 by default
    options = alice_client.get("/incidents/assignees/", {"assignment_team": network_team.pk, "assignee": alice.pk})
    assert f'<option value="{alice.pk}" selected>' in options.content.decode()
    assert "Pick a team first" in alice_client.get("/incidents/assignees/").content.decode()


def test_editing_changes_fields_through_the_service(alice_client, alice, network_team, policy):
    incident = open_incident(alice, impact=3, urgency=3)
    form = alice_client.get(f"/incidents/{incident.pk}/edit/").context["form"]
    assert form["title"].value() == "Mail is down"
    response = alice_client.post(
        f"/incidents/{incident.pk}/edit/",
        {"title": "Mail is down for everyone", "impact": 1, "urgency": 3, "assignment_team": network_team.pk},
    )
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.title == "Mail is down for everyone" and incident.priority == 3
    assert incident.assignment_team == network_team
    kinds = list(TimelineEntry.objects.filter(incident=incident).values_list("kind", flat=True))
    assert "priority" in kinds and "assignment" in kinds


def test_a_closed_incident_is_not_offered_for_editing(alice_client, alice):
    incident = open_incident(alice)
    services.transition(incident, "canceled", user=alice, note="Test")
    response = alice_client.get(f"/incidents/{incident.pk}/edit/", follow=True)
    assert response.redirect_chain[-1][0] == f"/incidents/{incident.pk}/"
    assert "can no longer be edited" in " ".join(messages_of(response))
    refused = alice_client.post(f"/incidents/{incident.pk}/edit/", {"title": "New", "impact": 3, "urgency": 3})
    assert refused.status_code == 200
    assert "can no longer be edited" in " ".join(refused.context["form"].non_field_errors())


# Home page ------------------------------------------------------------------------------------
def test_the_home_page_shows_my_work_breaching_soon_and_open_by_priority(client, alice, network_team, policy):
    mine = open_incident(alice, title="Mine", impact=1, urgency=1, assignment_team=network_team, assignee=alice)
    open_incident(alice, title="Someone's", impact=2, urgency=2)
    from slas.services import scan

    scan(now=timezone.now() + timedelta(hours=4))
    client.force_login(alice)
    response = client.get("/")
    panels = {panel.key: data for panel, data in response.context["panels"]}
    assert [i.number for i in panels["incidents_mine"]["incidents"]] == [mine.number]
    assert mine.number in [i.number for i in panels["incidents_breaching"]["incidents"]]
    counts = {row["priority"]: row["count"] for row in panels["incidents_by_priority"]["rows"]}
    assert counts == {1: 1, 2: 0, 3: 1, 4: 0, 5: 0}
    body = response.content.decode()
    assert 'id="panel-incidents_mine"' in body and "/incidents/?queue=open&amp;priority=1" in body


def test_the_home_panels_run_a_bounded_number_of_queries(client, alice, network_team, policy):
    for i in range(12):
        open_incident(alice, title=f"Mine {i}", impact=1, urgency=1, assignment_team=network_team, assignee=alice)
    client.force_login(alice)
    few, _ = count_queries(client, "/")
    for i in range(12):
        open_incident(alice, title=f"More {i}", impact=1, urgency=1, assignment_team=network_team, assignee=alice)
    many, _ = count_queries(client, "/")
    assert few == many


def test_a_user_without_incident_access_gets_no_incident_panels(client):
    nobody = UserFactory(username="nobody")
    client.force_login(nobody)
    keys = [panel.key for panel, _ in client.get("/").context["panels"]]
    assert not [key for key in keys if key.startswith("incidents_")]


def test_the_date_ranges_carried_as_hidden_fields_leave_no_stray_separators(alice_client):
    html = alice_client.get("/incidents/", {"created_after": "2026-01-01T00:00:00Z"}).content.decode()
    start = html.index(">", html.index('id="list-filters"')) + 1
    before_search = html[start : html.rfind("<", start, html.index('for="id_q"', start))]  # up to the label
    assert 'type="hidden" name="created_after" value="2026-01-01T00:00:00Z"' in before_search
    visible_text = re.sub(r"<[^>]+>", "", before_search)
    assert "-" not in visible_text
