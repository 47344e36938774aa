"""The change pages with Django's client: the list and its tabs, the form (new, from a template,
requested from an incident, edit), the detail page's actions (moves, approval, note, risk
override, incident links), the risk questionnaire and History — permissions per role, and bad
input shown on the form with nothing written."""

import html
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from changes.choices import ChangeState, ChangeType, Decision, StageState
from changes.models import ApprovalPolicyStage, ChangeApproval, ChangeRequest, ChangeTimelineEntry
from changes.services import approvals
from changes.services import changes as services
from incidents.models import Incident
from incidents.services import incidents as incident_services
from tests.changes.journeys import PLANS, Cast, change_in, ready_change, window
from tests.factories import BlackoutWindowFactory, CIFactory, TemplateFactory, new_change

pytestmark = pytest.mark.django_db
S, T = ChangeState, ChangeType


@pytest.fixture
def cast(alice, network_team, nina, erin, ecab):
    return Cast(requester=alice, team=network_team, approvers={T.NORMAL: nina, T.EMERGENCY: erin})


def url(change, action=""):
    return f"/changes/{change.pk}/{action + '/' if action else ''}"


def local(value):
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M")


def text_of(response):
    """The page's HTML with its entities decoded (an apostrophe is ``&#x27;`` on the page)."""
    return html.unescape(response.content.decode())


def messages_of(response):
    return [str(m) for m in response.context["messages"]]


def kinds(change):
    return list(ChangeTimelineEntry.objects.filter(change=change).values_list("kind", flat=True))


# The list ---------------------------------------------------------------------------------------
def test_the_list_opens_on_all_open_and_its_tabs_narrow_it(client, alice, bob, cast):
    mine = ready_change(cast, title="Upgrade core switch firmware")
    other = new_change(bob, title="Rotate database certificates")
    done = change_in(S.CANCELED, cast, title="Old idea")
    client.force_login(alice)
    numbers = lambda response: {row[0].number for row in response.context["rows"]}  # noqa: E731
    response = client.get("/changes/")
    assert response.status_code == 200
    assert numbers(response) == {mine.number, other.number}
    assert [key for key, _label, active in response.context["queues"] if active] == ["open"]
    assert numbers(client.get("/changes/", {"queue": "mine"})) == {mine.number}
    assert numbers(client.get("/changes/", {"queue": "all"})) == {mine.number, other.number, done.number}
    assert numbers(client.get("/changes/", {"queue": "all", "q": "certificates"})) == {other.number}


def test_awaiting_my_approval_lists_the_changes_the_approver_may_decide(client, nina, cast):
    waiting = change_in(S.AUTHORIZE, cast, title="Patch the edge routers")
    ready_change(cast, title="Not yet submitted")
    client.force_login(nina)
    response = client.get("/changes/", {"queue": "approvals"})
    assert [row[0].number for row in response.context["rows"]] == [waiting.number]


def test_the_list_exports_csv_with_the_risk_in_words(client, alice, cast):
    ready_change(cast, title="Replace the load balancer")
    client.force_login(alice)
    response = client.get("/changes/", {"queue": "all", "export": "csv"})
    body = b"".join(response.streaming_content).decode()
    assert body.splitlines()[0].startswith("Number,Title,Type,State,Risk")
    assert "Replace the load balancer,Normal,New,Low" in body


def test_a_viewer_reads_the_list_without_the_new_button_and_anonymous_users_sign_in(client, victor, cast):
    ready_change(cast)
    client.force_login(victor)
    body = client.get("/changes/").content.decode()
    assert "New change" not in body
    client.logout()
    assert client.get("/changes/")["Location"].startswith("/login/")


# New / edit --------------------------------------------------------------------------------------
def test_an_agent_creates_a_change_from_the_form(client, alice, network_team):
    db = CIFactory(name="db01")
    start, end = window()["planned_start"], window()["planned_end"]
    client.force_login(alice)
    assert client.get("/changes/new/").status_code == 200
    response = client.post(
        "/changes/new/",
        {
            "title": "Upgrade PostgreSQL to 17",
            "type": "normal",
            "assignment_team": network_team.pk,
            "assignee": alice.pk,
            "affected_cis": [db.pk],
            "planned_start": local(start),
            "planned_end": local(end),
            **PLANS,
        },
    )
    change = ChangeRequest.objects.get()
    assert response["Location"] == url(change)
    assert change.requester == alice and change.assignee == alice and change.type == T.NORMAL
    assert list(change.affected_cis.all()) == [db]
    assert change.planned_start == start.replace(second=0)


def test_a_planned_end_before_the_start_is_shown_on_the_field_and_nothing_is_written(client, alice):
    start = window()["planned_start"]
    client.force_login(alice)
    response = client.post(
        "/changes/new/",
        {
            "title": "Backwards",
            "type": "normal",
            "planned_start": local(start),
            "planned_end": local(start - timedelta(hours=1)),
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["planned_end"]
    assert 'id="change-form"' in response.content.decode()
    assert not ChangeRequest.objects.exists()


def test_an_assignee_outside_the_team_is_refused_on_the_assignee_field(client, alice, bob, network_team):
    client.force_login(alice)
    response = client.post(
        "/changes/new/",
        {"title": "Wrong person", "type": "normal", "assignment_team": network_team.pk, "assignee": bob.pk},
    )
    assert response.status_code == 200
    assert "bob is not a member of Network" in " ".join(response.context["form"].errors["assignee"])
    assert not ChangeRequest.objects.exists()


def test_a_viewer_may_not_open_or_post_the_form(client, victor):
    client.force_login(victor)
    assert client.get("/changes/new/").status_code == 403
    assert client.post("/changes/new/", {"title": "Sneaky", "type": "normal"}).status_code == 403
    assert not ChangeRequest.objects.exists()


def test_a_template_pre_fills_a_standard_change_that_takes_its_plans(client, alice, network_team):
    template = TemplateFactory(name="Rotate TLS certificate", assignment_team=network_team, risk_level="low")
    client.force_login(alice)
    page = client.get("/changes/new/", {"template": template.pk})
    assert page.context["form"]["title"].value() == "Rotate TLS certificate"
    assert "implementation_plan" not in page.context["form"].fields
    assert template.implementation_plan in page.content.decode()
    response = client.post(
        "/changes/new/", {"title": "Rotate TLS certificate", "type": "standard", "template": template.pk}
    )
    change = ChangeRequest.objects.get()
    assert response["Location"] == url(change)
    assert change.type == T.STANDARD and change.template == template
    assert change.implementation_plan == template.implementation_plan
    assert change.assignment_team == network_team


def test_a_template_out_of_the_catalogue_is_refused(client, alice):
    draft = TemplateFactory(state="draft")
    client.force_login(alice)
    response = client.get("/changes/new/", {"template": draft.pk}, follow=True)
    assert response.redirect_chain[-1][0] == "/changes/templates/"
    assert "That template is not in the catalogue (not approved, or retired)." in messages_of(response)


def test_request_change_from_a_p1_incident_proposes_an_emergency_and_puts_it_on_hold(client, alice, network_team):
    web = CIFactory(name="web01")
    incident = incident_services.create_incident(
        user=alice, title="Shop is down", impact=1, urgency=1, assignment_team=network_team, affected_cis=[web]
    )
    client.force_login(alice)
    form = client.get("/changes/new/", {"incident": incident.pk}).context["form"]
    assert form["type"].value() == T.EMERGENCY
    assert form["title"].value() == f"Fix for {incident.number}: Shop is down"
    assert [int(pk) for pk in form["affected_cis"].value()] == [web.pk]
    response = client.post(
        "/changes/new/",
        {
            "title": form["title"].value(),
            "type": T.EMERGENCY,
            "incident": incident.pk,
            "assignment_team": network_team.pk,
            "affected_cis": [web.pk],
        },
    )
    change = ChangeRequest.objects.get()
    assert response["Location"] == url(change)
    assert list(change.incidents.all()) == [incident]
    incident.refresh_from_db()
    assert incident.state == "on_hold" and incident.hold_reason == "awaiting_change"


def test_the_incident_page_offers_request_change_to_agents_on_open_incidents_only(client, alice, victor):
    incident = incident_services.create_incident(user=alice, title="Printer jam")
    client.force_login(alice)
    link = f'href="/changes/new/?incident={incident.pk}"'
    assert link in client.get(f"/incidents/{incident.pk}/").content.decode()
    client.force_login(victor)
    assert link not in client.get(f"/incidents/{incident.pk}/").content.decode()
    incident_services.transition(incident, "canceled", user=alice, note="Duplicate")
    client.force_login(alice)
    assert link not in client.get(f"/incidents/{incident.pk}/").content.decode()
    response = client.get("/changes/new/", {"incident": incident.pk}, follow=True)
    assert f"{incident.number} is canceled: a change can't be requested for it." in messages_of(response)


def test_editing_the_schedule_of_a_change_under_approval_restarts_the_approvals(client, alice, cast):
    change = change_in(S.AUTHORIZE, cast)
    later = change.planned_start + timedelta(days=1)
    client.force_login(alice)
    form = client.get(url(change, "edit")).context["form"]
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data.update(planned_start=local(later), planned_end=local(later + timedelta(hours=2)))
    response = client.post(url(change, "edit"), data, follow=True)
    change.refresh_from_db()
    assert change.approval_round == 2 and change.planned_start == later.replace(second=0)
    assert "The plans, schedule or CIs changed: the approvals start again." in messages_of(response)


def test_a_closed_change_is_not_edited(client, alice, cast):
    change = change_in(S.CANCELED, cast)
    client.force_login(alice)
    response = client.get(url(change, "edit"))
    assert response["Location"] == url(change)


# The detail page and its moves --------------------------------------------------------------------
def test_the_page_shows_the_change_and_the_moves_its_state_allows(client, alice, cast):
    db = CIFactory(name="db01", criticality=1)
    change = ready_change(cast, affected_cis=[db], description="Move to the new storage array.")
    client.force_login(alice)
    response = client.get(url(change))
    body = response.content.decode()
    assert response.status_code == 200
    for text in (change.number, "Move to the new storage array.", "db01", 'id="risk-factors"', 'id="approvals"'):
        assert text in body
    assert [move["state"] for move in response.context["moves"]] == [S.ASSESS, S.CANCELED]
    assert 'data-factor="criticality"' in body.split('id="risk"')[1]


def test_a_viewer_sees_the_page_but_no_action_and_may_not_post_one(client, victor, cast):
    change = ready_change(cast)
    client.force_login(victor)
    body = client.get(url(change)).content.decode()
    assert 'id="change-actions"' not in body and 'id="note-form"' not in body
    for action, data in [
        ("transition", {"state": "assess"}),
        ("notes", {"body": "hi"}),
        ("approve", {"decision": "approved"}),
    ]:
        assert client.post(url(change, action), data).status_code == 403
    change.refresh_from_db()
    assert change.state == S.NEW and kinds(change).count("note") == 0


def test_requesting_approval_without_plans_says_what_is_missing_and_moves_nothing(client, alice, network_team):
    change = new_change(alice, title="Vague idea", assignment_team=network_team)
    services.transition(change, S.ASSESS, user=alice)
    client.force_login(alice)
    response = client.post(url(change, "transition"), {"state": S.AUTHORIZE})
    assert response.status_code == 400
    body = response.content.decode()
    assert "Write the implementation plan before asking for approval." in body
    change.refresh_from_db()
    assert change.state == S.ASSESS and change.approval_round == 0


def test_a_move_the_state_no_longer_allows_answers_409(client, alice, cast):
    change = ready_change(cast)
    client.force_login(alice)
    response = client.post(url(change, "transition"), {"state": S.IMPLEMENT})
    assert response.status_code == 409
    change.refresh_from_db()
    assert change.state == S.NEW


def test_canceling_needs_a_reason_shown_on_its_form(client, alice, cast):
    change = ready_change(cast)
    client.force_login(alice)
    response = client.post(url(change, "transition"), {"state": S.CANCELED, "note": ""})
    assert response.status_code == 400
    assert response.context["open_action"] == "move-canceled"
    assert response.context["action_forms"][S.CANCELED].errors["note"]
    response = client.post(url(change, "transition"), {"state": S.CANCELED, "note": "Superseded by CHG-next."})
    assert response["Location"] == url(change)
    change.refresh_from_db()
    assert change.state == S.CANCELED


def test_scheduling_into_a_blackout_is_refused_naming_the_window(client, alice, cast):
    freeze = BlackoutWindowFactory(name="Year-end freeze")
    change = ready_change(
        cast, T.STANDARD, planned_start=freeze.start + timedelta(hours=1), planned_end=freeze.start + timedelta(hours=3)
    )
    client.force_login(alice)
    page = client.get(url(change))
    assert "Year-end freeze" in page.content.decode().split('id="conflicts"')[1]
    response = client.post(url(change, "transition"), {"state": S.SCHEDULED})
    assert response.status_code == 409
    assert "Year-end freeze" in response.content.decode().split('id="change-actions"')[1]
    change.refresh_from_db()
    assert change.state == S.NEW


def test_an_emergency_with_a_justification_is_scheduled_into_a_blackout(client, alice, cast, erin):
    freeze = BlackoutWindowFactory(name="Year-end freeze")
    inside = {"planned_start": freeze.start + timedelta(hours=1), "planned_end": freeze.start + timedelta(hours=2)}
    change = change_in(S.AUTHORIZE, cast, T.EMERGENCY, **inside)
    approvals.decide(change, user=erin, decision="approved")
    change.refresh_from_db()
    assert change.state == S.AUTHORIZE and change.approved_at is not None  # held by the blackout
    client.force_login(alice)
    response = client.post(
        url(change, "transition"),
        {"state": S.SCHEDULED, "emergency_justification": "The shop is down; the fix can't wait."},
    )
    assert response["Location"] == url(change)
    change.refresh_from_db()
    assert change.state == S.SCHEDULED
    assert change.emergency_justification == "The shop is down; the fix can't wait."


# Approvals ---------------------------------------------------------------------------------------
def test_the_approver_approves_on_the_page_and_the_change_is_scheduled(client, nina, cast):
    change = change_in(S.AUTHORIZE, cast)
    client.force_login(nina)
    page = client.get(url(change))
    assert page.context["may_decide"] and 'id="decision-form"' in page.content.decode()
    response = client.post(url(change, "approve"), {"decision": "approved", "comment": "Looks fine."})
    assert response["Location"] == url(change) + "#approvals"
    change.refresh_from_db()
    assert change.state == S.SCHEDULED
    assert ChangeApproval.objects.get().approver == nina


def test_the_requester_is_told_they_cant_approve_and_a_forged_approval_is_403(client, alice, cast):
    change = change_in(S.AUTHORIZE, cast)
    client.force_login(alice)
    page = client.get(url(change))
    assert not page.context["may_decide"]
    assert "You can't approve your own change." in text_of(page)
    response = client.post(url(change, "approve"), {"decision": "approved"})
    assert response.status_code == 403
    assert "You can't approve your own change." in text_of(response)
    assert not ChangeApproval.objects.exists()


def test_an_agent_who_approves_nothing_gets_403(client, plain_agent, cast):
    change = change_in(S.AUTHORIZE, cast)
    client.force_login(plain_agent)
    assert client.post(url(change, "approve"), {"decision": "approved"}).status_code == 403
    assert not ChangeApproval.objects.exists()


def test_approving_twice_answers_409(client, cast, maria, carol, dave, nina, cab):
    change = ready_change(cast)
    services.override_risk(change, user=maria, level="high", reason="Core network.")
    change = services.transition(change, S.ASSESS, user=cast.requester)
    change = services.transition(change, S.AUTHORIZE, user=cast.requester)
    approvals.decide(change, user=nina, decision="approved")  # technical review → CAB (2 approvals)
    client.force_login(carol)
    assert client.post(url(change, "approve"), {"decision": "approved"}).status_code == 302
    response = client.post(url(change, "approve"), {"decision": "approved"})
    assert response.status_code == 409
    assert ChangeApproval.objects.filter(approver=carol).count() == 1


def test_a_rejection_needs_a_comment_and_sends_the_change_back_to_new(client, nina, cast):
    change = change_in(S.AUTHORIZE, cast)
    client.force_login(nina)
    response = client.post(url(change, "approve"), {"decision": "rejected", "comment": ""})
    assert response.status_code == 400
    assert response.context["decision_form"].errors["comment"]
    assert not ChangeApproval.objects.exists()
    client.post(url(change, "approve"), {"decision": "rejected", "comment": "No backout tested."})
    change.refresh_from_db()
    assert change.state == S.NEW
    assert change.approval_stages.get().state == StageState.REJECTED


def test_the_panel_shows_each_stage_and_its_decisions(client, alice, nina, cast):
    ApprovalPolicyStage.objects.filter(policy__name="Normal change, low risk").update(required_approvals=2)
    change = change_in(S.AUTHORIZE, cast)
    approvals.decide(change, user=nina, decision=Decision.APPROVED, comment="Plan checked.")
    client.force_login(alice)
    body = client.get(url(change)).content.decode().split('id="approvals"')[1].split("</section>")[0]
    assert "Technical review" in body and "1 of 2 approvals" in body and "Plan checked." in body


# Risk ----------------------------------------------------------------------------------------------
def test_the_questionnaire_saves_the_answers_and_recomputes_the_risk(client, alice, network_team):
    change = new_change(alice, title="Storage move", assignment_team=network_team)
    client.force_login(alice)
    page = client.get(url(change, "risk"))
    form = page.context["form"]
    assert len(form.fields) == 5 and page.context["can_answer"]
    worst = {}
    for question in form.questions:
        worst[f"q_{question.pk}"] = max(question.options.all(), key=lambda o: o.score).pk
    response = client.post(url(change, "risk"), worst)
    assert response["Location"] == url(change) + "#risk"
    change.refresh_from_db()
    assert change.risk_answers.count() == 5 and change.risk_score >= 22


def test_the_questionnaire_is_read_only_once_approval_is_requested(client, alice, cast):
    change = change_in(S.AUTHORIZE, cast)
    client.force_login(alice)
    assert not client.get(url(change, "risk")).context["can_answer"]
    answers = {f"q_{option.question_id}": option.pk for option in change.risk_answers.all()}
    response = client.post(url(change, "risk"), answers)
    assert response.status_code == 409
    assert kinds(change).count("risk") == 0


def test_a_manager_overrides_the_risk_with_a_reason(client, maria, cast):
    change = ready_change(cast)
    client.force_login(maria)
    assert 'id="override-form"' in client.get(url(change)).content.decode()
    response = client.post(url(change, "override-risk"), {"level": "high", "reason": ""})
    assert response.status_code == 400 and response.context["override_form"].errors
    client.post(url(change, "override-risk"), {"level": "high", "reason": "Touches the core network."})
    change.refresh_from_db()
    assert change.effective_risk == "high" and change.risk_override_reason == "Touches the core network."


def test_an_agent_may_not_override_the_risk(client, alice, cast):
    change = ready_change(cast)
    client.force_login(alice)
    assert 'id="override-form"' not in client.get(url(change)).content.decode()
    response = client.post(url(change, "override-risk"), {"level": "low", "reason": "I say so."})
    assert response.status_code == 403
    change.refresh_from_db()
    assert change.risk_override == ""


# Incidents, notes, conflicts, history -----------------------------------------------------------
def test_incidents_are_linked_marked_as_caused_and_unlinked(client, alice, cast):
    change = ready_change(cast)
    waiting = incident_services.create_incident(user=alice, title="VPN flaps")
    caused = incident_services.create_incident(user=alice, title="Mail queue stuck")
    client.force_login(alice)
    client.post(url(change, "incidents/link"), {"incident": waiting.number, "relation": "fixes"})
    client.post(url(change, "incidents/link"), {"incident": caused.number.lower(), "relation": "caused"})
    assert list(change.incidents.all()) == [waiting] and list(change.caused_incidents.all()) == [caused]
    assert Incident.objects.get(pk=waiting.pk).hold_reason == "awaiting_change"
    response = client.post(url(change, "incidents/link"), {"incident": "INC9999999", "relation": "fixes"})
    assert response.status_code == 400 and "No incident is numbered INC9999999." in response.content.decode()
    client.post(url(change, f"incidents/{waiting.pk}/unlink"), {"relation": "fixes"})
    client.post(url(change, f"incidents/{caused.pk}/unlink"), {"relation": "caused"})
    assert not change.incidents.exists() and not change.caused_incidents.exists()


def test_a_work_note_lands_on_the_timeline_and_an_empty_one_is_refused(client, alice, cast):
    change = ready_change(cast)
    client.force_login(alice)
    response = client.post(url(change, "notes"), {"body": ""})
    assert response.status_code == 400 and response.context["note_form"].errors["body"]
    client.post(url(change, "notes"), {"body": "Vendor confirmed the firmware build."})
    body = client.get(url(change)).content.decode()
    assert "Vendor confirmed the firmware build." in body.split('id="timeline-entries"')[1]


def test_the_conflicts_panel_names_another_change_on_the_same_ci(client, alice, bob, cast, database_team):
    db = CIFactory(name="db01")
    when = window()
    other = change_in(S.AUTHORIZE, cast, title="Patch db01", affected_cis=[db], **when)
    mine = new_change(bob, title="Resize db01", affected_cis=[db], **when)
    client.force_login(bob)
    panel = client.get(url(mine)).content.decode().split('id="conflicts"')[1].split("</section>")[0]
    assert other.number in panel and 'data-kind="same_ci"' in panel


def test_the_history_tab_lists_the_audit_trail(client, alice, cast):
    change = ready_change(cast)
    services.update_change(change, user=alice, title="Renamed")
    client.force_login(alice)
    response = client.get(url(change, "history"))
    assert response.status_code == 200 and response.content.decode().count("change-entry") >= 2


def test_the_page_runs_the_same_number_of_queries_whatever_the_size_of_the_change(client, alice, cast):
    change = change_in(S.AUTHORIZE, cast, affected_cis=[CIFactory(name="ci-0")])
    client.force_login(alice)
    with CaptureQueriesContext(connection) as small:
        assert client.get(url(change)).status_code == 200
    more = [CIFactory(name=f"ci-{i}") for i in range(1, 8)]
    services.update_change(change, user=alice, title="Bigger", affected_cis=[*change.affected_cis.all(), *more])
    for i in range(10):
        services.add_note(change, user=alice, body=f"Note {i}")
        incident_services.create_incident(user=alice, title=f"Incident {i}")
    for incident in Incident.objects.all()[:4]:
        services.link_incident(change, incident, user=alice)
    with CaptureQueriesContext(connection) as large:
        assert client.get(url(change)).status_code == 200
    assert len(large) == len(small), [q["sql"] for q in large.captured_queries]


def test_a_change_impacting_many_cis_names_the_first_fifty_and_counts_the_rest(client, alice):
    from tests.factories import link

    core = CIFactory(name="core-sw")
    for i in range(60):
        link(CIFactory(name=f"dependent-{i:02d}"), core, "depends-on")
    change = new_change(alice, affected_cis=[core])
    assert change.impacted_cis.count() == 60
    client.force_login(alice)
    body = client.get(url(change)).content.decode()
    assert "dependent-49" in body and "dependent-50" not in body
    assert "… and 10 more" in body
