"""The problem pages with Django's client: list (quick views, filters, CSV, constant queries),
the problem page (sections, the actions the state allows, refusals shown on the page), add/edit
(affected CIs by name), the POST actions, "Create problem" from the incident queue, delete,
history, the CI page's related problems, and who may see and do what."""

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents.choices import ProblemState, TimelineKind
from incidents.models import Incident, KnownError, Problem, ProblemTimelineEntry, TimelineEntry
from incidents.services import problems as services
from tests.factories import CIFactory, IncidentFactory, KnownErrorFactory, ProblemFactory, ci_class

pytestmark = pytest.mark.django_db

P = ProblemState
LIST = "/problems/"


def page(problem, action=""):
    return f"/problems/{problem.pk}/{action + '/' if action else ''}"


def numbers_in(response):
    return [obj.number for obj, _ in response.context["rows"]]


def messages_of(response):
    return [str(m) for m in response.context["messages"]] if response.context else []


# --- Access -----------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(client):
    problem = ProblemFactory()
    for path in (LIST, page(problem), "/problems/add/", "/problems/known-errors/"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/login/?next="), path
    response = client.post(page(problem, "transition"), {"state": "assess"})
    assert response.status_code == 302
    problem.refresh_from_db()
    assert problem.state == P.NEW


def test_a_viewer_sees_the_pages_without_write_controls_and_is_refused_writes(client, victor):
    client.force_login(victor)
    problem = ProblemFactory(state=P.ASSESS, root_cause="Known.")
    incident = IncidentFactory(problem=problem)
    body = client.get(page(problem)).content.decode()
    for control in (
        'id="transition-form"',
        'id="workaround-form"',
        'id="link-form"',
        'id="note-form"',
        ">Edit<",
        "Unlink",
    ):
        assert control not in body, control
    assert "Record as known error" not in body
    assert client.get("/problems/add/").status_code == 403
    assert client.get(page(problem, "edit")).status_code == 403
    posts = [
        (page(problem, "transition"), {"state": "root_cause_analysis"}),
        (page(problem, "workaround"), {"workaround": "x"}),
        (page(problem, "incidents/link"), {"incidents": incident.number}),
        (f"/problems/{problem.pk}/incidents/{incident.pk}/unlink/", {}),
        (page(problem, "known-error"), {}),
        (page(problem, "notes"), {"body": "x"}),
        ("/problems/from-incidents/", {"ids": [incident.pk]}),
        (page(problem, "delete"), {}),
    ]
    for path, data in posts:
        assert client.post(path, data).status_code == 403, path
    problem.refresh_from_db()
    assert problem.state == P.ASSESS and problem.workaround == ""
    assert Problem.objects.count() == 1 and not KnownError.objects.exists()
    assert not ProblemTimelineEntry.objects.exists()


def test_the_navigation_has_problems_highlighted_on_every_problem_page(alice_client):
    problem = ProblemFactory()
    for path in (LIST, page(problem), "/problems/known-errors/"):
        body = alice_client.get(path).content.decode()
        assert 'href="/problems/" aria-current="page">Problems</a>' in body, path


# --- List -------------------------------------------------------------------------------------


def test_the_list_filters_searches_and_offers_quick_views(alice_client, alice, network_team):
    mine = ProblemFactory(title="DNS flaps", state=P.ASSESS, assignment_team=network_team, assignee=alice)
    resolved = ProblemFactory(title="Backup fails", state=P.RESOLVED, root_cause="Tape full")
    closed = ProblemFactory(title="Old printer", state=P.CLOSED)
    everything = alice_client.get(LIST)
    assert set(numbers_in(everything)) == {mine.number, resolved.number, closed.number}
    views = {label: (url, active) for label, url, active in everything.context["quick_views"]}
    assert list(views) == ["All", "Open", "Assigned to me", "Resolved"]
    assert views["All"][1] is True
    assert numbers_in(alice_client.get(views["Open"][0])) == [mine.number]
    mine_view = alice_client.get(views["Assigned to me"][0])
    assert numbers_in(mine_view) == [mine.number]
    assert [label for label, _, active in mine_view.context["quick_views"] if active] == ["Assigned to me"]
    # The filter form carries the quick view's hidden filters along, each value on its own.
    assert f'<input type="hidden" name="assignee" value="{alice.pk}"' in mine_view.content.decode()
    assert numbers_in(alice_client.get(views["Resolved"][0])) == [resolved.number]
    assert numbers_in(alice_client.get(LIST, {"q": "tape"})) == [resolved.number]
    assert numbers_in(alice_client.get(LIST, {"state": ["closed", "resolved"], "sort": "title"})) == [
        resolved.number,
        closed.number,
    ]


def test_the_list_counts_linked_incidents_sorts_by_them_and_exports_csv(alice_client):
    busy, quiet = ProblemFactory(title="Busy"), ProblemFactory(title="Quiet")
    for _ in range(3):
        IncidentFactory(problem=busy)
    response = alice_client.get(LIST, {"sort": "-incident_count"})
    assert numbers_in(response) == [busy.number, quiet.number]
    cells = dict(response.context["rows"])
    assert [
        value for column, value in cells[Problem.objects.get(pk=busy.pk)] if column.accessor == "incident_count"
    ] == [3]
    exported = alice_client.get(LIST, {"export": "csv", "sort": "title"})
    rows = list(csv.reader(io.StringIO(b"".join(exported.streaming_content).decode())))
    assert rows[0][:3] == ["Number", "Title", "State"]
    assert [row[1] for row in rows[1:]] == ["Busy", "Quiet"]
    assert rows[1][6] == "3"


def test_the_list_answers_in_constant_queries(alice_client, network_team):
    def cost():
        with CaptureQueriesContext(connection) as queries:
            response = alice_client.get(LIST, {"per_page": 100})
        assert response.status_code == 200
        return len(queries)

    ProblemFactory(assignment_team=network_team)
    few = cost()
    for _ in range(40):
        problem = ProblemFactory(assignment_team=network_team)
        IncidentFactory(problem=problem)
    assert cost() == few
    assert few <= 10


# --- The problem page -------------------------------------------------------------------------


def test_the_page_shows_details_incidents_known_errors_and_the_timeline(alice_client, alice):
    web = CIFactory(name="web-01")
    problem = services.create_problem(user=alice, title="Shop 502s", description="After deploys.", affected_cis=[web])
    incident = IncidentFactory(title="Checkout 502")
    services.link_incidents(problem, [incident.pk], user=alice)
    services.transition_problem(problem, P.ASSESS, user=alice, note="Reproduced on staging.")
    KnownErrorFactory(title="Deploy 502", problem=problem)

    response = alice_client.get(page(problem))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Shop 502s" in body and "After deploys." in body
    assert 'data-state="assess"' in body
    assert f'href="{web.get_absolute_url()}">web-01</a>' in body
    assert f'data-number="{incident.number}"' in body and "Checkout 502" in body
    assert "Deploy 502" in body
    assert [e.summary for e in response.context["timeline"]] == [f"Linked {incident.number}", "New → Assess"]
    assert "Reproduced on staging." in body
    choices = [value for value, _ in response.context["transition_form"].fields["state"].choices]
    assert choices == ["root_cause_analysis", "fix_in_progress", "closed"]


def test_the_page_answers_in_constant_queries(alice_client, alice):
    problem = ProblemFactory()

    def cost():
        with CaptureQueriesContext(connection) as queries:
            assert alice_client.get(page(problem)).status_code == 200
        return len(queries)

    few = cost()
    for n in range(15):
        IncidentFactory(problem=problem, assignee=alice)
        services.add_problem_note(problem, user=alice, body=f"Note {n}")
        KnownErrorFactory(problem=problem)
        problem.affected_cis.add(CIFactory())
    assert cost() == few


def test_a_closed_problem_offers_no_actions_and_no_edit(alice_client):
    problem = ProblemFactory(state=P.CLOSED)
    response = alice_client.get(page(problem))
    body = response.content.decode()
    assert "transition_form" not in response.context and "workaround_form" not in response.context
    assert ">Edit<" not in body and 'id="link-form"' not in body


# --- Actions ----------------------------------------------------------------------------------


def test_moving_the_problem_records_it_and_says_so(alice_client):
    problem = ProblemFactory(state=P.NEW)
    response = alice_client.post(page(problem, "transition"), {"state": "assess", "note": "Triage."}, follow=True)
    assert response.redirect_chain[-1][0] == page(problem)
    assert messages_of(response) == [f"{problem.number} is now assess."]
    problem.refresh_from_db()
    assert problem.state == P.ASSESS


def test_a_refused_move_shows_the_page_again_with_the_reason_and_the_input(alice_client):
    problem = ProblemFactory(state=P.ROOT_CAUSE_ANALYSIS)
    response = alice_client.post(page(problem, "transition"), {"state": "resolved", "note": "Fixed, I think."})
    assert response.status_code == 400
    form = response.context["transition_form"]
    assert "Record the root cause before moving the problem to resolved." in form.non_field_errors()
    assert "Fixed, I think." in response.content.decode()
    # A state the table no longer allows is a form error too (the choice list is the allowed moves).
    stale = alice_client.post(page(problem, "transition"), {"state": "assess"})
    assert stale.status_code == 400 and "state" in stale.context["transition_form"].errors
    problem.refresh_from_db()
    assert problem.state == P.ROOT_CAUSE_ANALYSIS


def test_closing_without_a_note_puts_the_reason_on_the_note_field(alice_client):
    problem = ProblemFactory(state=P.ASSESS)
    response = alice_client.post(page(problem, "transition"), {"state": "closed"})
    assert response.status_code == 400
    assert response.context["transition_form"].errors["note"] == [
        "Say why the problem is closed without having been resolved."
    ]


def test_posting_a_workaround_sends_it_to_the_open_incidents(alice_client):
    problem = ProblemFactory(state=P.ASSESS)
    open_one = IncidentFactory(problem=problem, state="new")
    IncidentFactory(problem=problem, state="closed")
    response = alice_client.post(page(problem, "workaround"), {"workaround": "Flush the DNS cache."}, follow=True)
    assert messages_of(response) == [f"Workaround posted on {problem.number} and sent to 1 open incident."]
    assert TimelineEntry.objects.get(kind=TimelineKind.WORK_NOTE).incident == open_one
    blank = alice_client.post(page(problem, "workaround"), {"workaround": " "})
    assert blank.status_code == 400 and "workaround" in blank.context["workaround_form"].errors


def test_incidents_are_linked_by_number_and_unlinked(alice_client):
    problem = ProblemFactory()
    first, second = IncidentFactory(), IncidentFactory()
    response = alice_client.post(
        page(problem, "incidents/link"), {"incidents": f"{first.number}, {second.number.lower()}"}, follow=True
    )
    assert messages_of(response) == [f"Linked {first.number}, {second.number} to {problem.number}."]
    assert set(problem.incidents.all()) == {first, second}
    unlinked = alice_client.post(f"/problems/{problem.pk}/incidents/{first.pk}/unlink/", follow=True)
    assert messages_of(unlinked) == [f"Unlinked {first.number} from {problem.number}."]
    assert list(problem.incidents.all()) == [second]
    again = alice_client.post(f"/problems/{problem.pk}/incidents/{first.pk}/unlink/", follow=True)
    assert messages_of(again) == [f"{first.number} is not linked to {problem.number}."]


def test_an_unknown_incident_number_is_shown_on_the_link_form(alice_client):
    problem = ProblemFactory()
    response = alice_client.post(page(problem, "incidents/link"), {"incidents": "INC0999999"})
    assert response.status_code == 400
    assert response.context["link_form"].errors["incidents"] == ["No incident numbered INC0999999."]
    assert "INC0999999" in response.content.decode()


def test_recording_a_known_error_opens_it(alice_client):
    problem = ProblemFactory(state=P.ROOT_CAUSE_ANALYSIS, root_cause="Clock drift.", workaround="Restart ntpd.")
    response = alice_client.post(page(problem, "known-error"), follow=True)
    known_error = KnownError.objects.get()
    assert response.redirect_chain[-1][0] == known_error.get_absolute_url()
    assert messages_of(response) == [f"Recorded known error {known_error.number}."]
    assert known_error.workaround == "Restart ntpd."
    second = alice_client.post(page(problem, "known-error"), follow=True)
    assert messages_of(second) == [f"{problem.number} already has the known error {known_error.number}."]
    assert KnownError.objects.count() == 1


def test_the_known_error_button_waits_for_a_root_cause(alice_client):
    problem = ProblemFactory(state=P.ASSESS)
    body = alice_client.get(page(problem)).content.decode()
    assert "Record the root cause to record this problem as a known error." in body
    assert "Record as known error" not in body


def test_notes_are_added_to_the_timeline(alice_client):
    problem = ProblemFactory()
    response = alice_client.post(page(problem, "notes"), {"body": "Packet capture attached to INC."}, follow=True)
    assert messages_of(response) == ["Note added."]
    assert "Packet capture attached to INC." in response.content.decode()
    assert alice_client.post(page(problem, "notes"), {"body": ""}).status_code == 400


def test_actions_answer_405_to_a_get_and_404_for_a_missing_problem(alice_client):
    problem = ProblemFactory()
    assert alice_client.get(page(problem, "transition")).status_code == 405
    assert alice_client.get("/problems/from-incidents/").status_code == 405
    assert alice_client.post("/problems/999999/transition/", {"state": "assess"}).status_code == 404


# --- Add and edit -----------------------------------------------------------------------------


def test_a_problem_is_added_with_cis_by_name_and_the_assignee_list_follows_the_team(alice_client, alice, network_team):
    web = CIFactory(name="web-01")
    form = alice_client.get("/problems/add/").context["form"]
    assert form.fields["assignee"].widget.choices == [("", "— Pick a team first —")]
    response = alice_client.post(
        "/problems/add/",
        {
            "title": "Web tier memory",
            "priority": "2",
            "assignment_team": network_team.pk,
            "assignee": alice.pk,
            "affected_cis": "WEB-01",
        },
        follow=True,
    )
    problem = Problem.objects.get()
    assert response.redirect_chain[-1][0] == page(problem)
    assert problem.opened_by == alice and problem.assignee == alice and problem.priority == 2
    assert list(problem.affected_cis.all()) == [web]


def test_ambiguous_and_unknown_ci_names_are_refused_naming_them(alice_client):
    CIFactory(name="db-01", ci_class=ci_class("database"))
    CIFactory(name="db-01", ci_class=ci_class("linux-server"))
    response = alice_client.post("/problems/add/", {"title": "X", "priority": "3", "affected_cis": "db-01\nghost"})
    assert response.status_code == 200
    [error] = response.context["form"].errors["affected_cis"]
    assert "Several CIs are named “db-01”" in error and "no CI is named “ghost”" in error
    assert not Problem.objects.exists()
    # Written as "name (Class)", as the search adds it, the name is unambiguous.
    database = ci_class("database")
    alice_client.post("/problems/add/", {"title": "X", "priority": "3", "affected_cis": f"db-01 ({database.name})"})
    assert [ci.ci_class for ci in Problem.objects.get().affected_cis.all()] == [database]


def test_an_assignee_outside_the_team_is_shown_on_the_assignee_field(alice_client, bob, network_team):
    response = alice_client.post(
        "/problems/add/", {"title": "X", "priority": "3", "assignment_team": network_team.pk, "assignee": bob.pk}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["assignee"] == ["bob is not a member of Network."]
    assert not Problem.objects.exists()


def test_editing_records_the_root_cause_and_keeps_the_cis_listed(alice_client, alice):
    web = CIFactory(name="web-01", ci_class=ci_class("application"))
    problem = services.create_problem(user=alice, title="Leak", affected_cis=[web])
    form = alice_client.get(page(problem, "edit")).context["form"]
    assert form.initial["affected_cis"] == [web]
    assert "web-01 (Application)" in str(form["affected_cis"])
    alice_client.post(
        page(problem, "edit"),
        {"title": "Leak in the cart", "priority": "3", "root_cause": "Sessions never expire.", "affected_cis": ""},
    )
    problem.refresh_from_db()
    assert problem.title == "Leak in the cart" and problem.root_cause == "Sessions never expire."
    assert not problem.affected_cis.exists()


def test_a_closed_problem_cannot_be_edited(alice_client):
    problem = ProblemFactory(state=P.CLOSED, title="Done")
    shown = alice_client.get(page(problem, "edit"), follow=True)
    assert shown.redirect_chain == [(page(problem), 302)]
    assert messages_of(shown) == [f"{problem.number} is closed: it can no longer be edited."]
    response = alice_client.post(page(problem, "edit"), {"title": "Changed", "priority": "3"})
    assert response.status_code == 200
    assert f"{problem.number} is closed: it can no longer be edited." in response.context["form"].non_field_errors()
    problem.refresh_from_db()
    assert problem.title == "Done"


# --- Create problem from the incident queue --------------------------------------------------


def test_create_problem_from_ticked_incidents_opens_it(alice_client):
    first = IncidentFactory(title="Mail queue stuck", priority=2)
    second = IncidentFactory(title="Mail slow", priority=3)
    response = alice_client.post(
        "/problems/from-incidents/", {"bulk-ids": [first.pk, second.pk], "bulk-next": "/incidents/"}, follow=True
    )
    problem = Problem.objects.get()
    assert response.redirect_chain[-1][0] == page(problem)
    assert messages_of(response) == [f"Created {problem.number} from 2 incidents. Check its title."]
    assert problem.title == "Mail queue stuck (+1 related incident)"
    assert set(Incident.objects.filter(problem=problem)) == {first, second}
    third = IncidentFactory()
    alice_client.post("/problems/from-incidents/", {"ids": [third.pk], "title": "Given"})
    assert Problem.objects.get(incidents=third).title == "Given"


def test_create_problem_from_nothing_or_bad_ids_goes_back_with_the_reason(alice_client):
    response = alice_client.post("/problems/from-incidents/", {"next": "/incidents/?queue=mine"}, follow=True)
    assert response.redirect_chain == [("/incidents/?queue=mine", 302)]
    assert messages_of(response)[0] == "No problem was created: Pick at least one incident."
    followed = alice_client.post("/problems/from-incidents/", {"ids": ["999999"], "next": "/incidents/"}, follow=True)
    assert messages_of(followed)[0] == "No problem was created: No incident with id 999999."
    outside = alice_client.post("/problems/from-incidents/", {"ids": ["1"], "next": "https://evil.example/"})
    assert outside["Location"] == "/incidents/"
    assert not Problem.objects.exists()


# --- Delete, history, the CI page -------------------------------------------------------------


def test_deleting_a_problem_unlinks_its_incidents(alice_client):
    problem = ProblemFactory()
    incident = IncidentFactory(problem=problem)
    assert alice_client.get(page(problem, "delete")).status_code == 200
    response = alice_client.post(page(problem, "delete"), follow=True)
    assert response.redirect_chain[-1][0] == LIST
    assert not Problem.objects.exists()
    incident.refresh_from_db()
    assert incident.problem is None


def test_the_history_tab_shows_the_changes(alice_client, alice):
    problem = services.create_problem(user=alice, title="Before")
    services.update_problem(problem, user=alice, title="After")
    response = alice_client.get(page(problem, "history"))
    body = response.content.decode()
    assert response.status_code == 200 and "Before" in body and "After" in body
    assert f'href="{page(problem)}">Details</a>' in body


def test_the_ci_page_lists_its_open_problems_and_active_known_errors(alice_client, alice):
    ci = CIFactory(name="core-sw-1")
    open_problem = services.create_problem(user=alice, title="Core switch reboots", affected_cis=[ci])
    closed = services.create_problem(user=alice, title="Old", affected_cis=[ci])
    Problem.objects.filter(pk=closed.pk).update(state=P.CLOSED)
    known = services.create_known_error(user=alice, title="Reboot loop", symptom="Reboots", affected_cis=[ci])
    body = alice_client.get(ci.get_absolute_url()).content.decode()
    assert 'data-kind="problems"' in body and open_problem.number in body and "Old" not in body
    assert f"/problems/?ci={ci.pk}&amp;open=true" in body
    assert 'data-kind="known_errors"' in body and known.number in body
    listed = alice_client.get(LIST, {"ci": ci.pk, "open": "true"})
    assert numbers_in(listed) == [open_problem.number]
