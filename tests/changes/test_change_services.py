"""Requesting and editing changes through ``changes.services.changes``: what is stored, what the
CMDB gives (impacted CIs and services), what the timeline and notifications say, when the
approvals are reset, and what bad input is refused with — nothing written."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from changes.choices import ChangeState, ChangeTimelineKind, ChangeType, StageState
from changes.models import ChangeRequest, ChangeTimelineEntry, RiskOption
from changes.services import changes as services
from incidents.models import Category
from itom.api.exceptions import Conflict
from itom.models import Notification, ObjectChange
from tests.changes.journeys import PLANS, Cast, calm_answers, change_in, window
from tests.factories import CIFactory, TemplateFactory, ci_class, link, open_incident

pytestmark = pytest.mark.django_db

S, T = ChangeState, ChangeType


@pytest.fixture
def cast(alice, network_team, nina, ecab, erin):
    return Cast(requester=alice, team=network_team, approvers={T.NORMAL: nina, T.EMERGENCY: erin})


@pytest.fixture
def estate():
    """db01 (a critical database) runs the shop's app (of low criticality), which the online shop
    (a business service) depends on; the payroll service depends on db01 directly. All in
    production: a change on the app is of low risk (0 + 4 + 2), on db01 moderate (6 + 4 + 4)."""
    db = CIFactory(name="db01", ci_class=ci_class("database"), criticality=1)
    app = CIFactory(name="shop-app", ci_class=ci_class("application"), criticality=4)
    shop = CIFactory(name="Online shop", ci_class=ci_class("business-service"))
    payroll = CIFactory(name="Payroll", ci_class=ci_class("business-service"))
    link(app, db)
    link(shop, app)
    link(payroll, db)
    return {"db": db, "app": app, "shop": shop, "payroll": payroll}


def written():
    return (ChangeRequest.objects.count(), ChangeTimelineEntry.objects.count(), ObjectChange.objects.count())


def kinds(change):
    return list(change.timeline.values_list("kind", flat=True))


# --- requesting -------------------------------------------------------------------------------


def test_requesting_a_change_stores_it_new_with_its_requester_and_a_first_timeline_line(alice, network_team):
    start = window()
    change = services.create_change(
        user=alice,
        title="  Upgrade the core switches ",
        description="Firmware 9.3 fixes the memory leak.",
        assignment_team=network_team,
        **PLANS,
        **start,
    )
    change.refresh_from_db()
    assert change.number.startswith("CHG") and len(change.number) == 10
    assert (change.title, change.type, change.state) == ("Upgrade the core switches", T.NORMAL, S.NEW)
    assert change.requester == alice and change.opened_by == alice
    assert change.planned_start == start["planned_start"]
    first = change.timeline.first()
    assert first.kind == ChangeTimelineKind.STATE and first.data["to"] == S.NEW and first.author == alice
    assert "normal change" in first.body
    assert kinds(change) == [ChangeTimelineKind.STATE, ChangeTimelineKind.ASSIGNMENT]


def test_the_team_and_the_assignee_hear_of_a_new_change_but_not_the_requester(alice, nina, network_team):
    change = services.create_change(user=alice, title="Replace the PDU", assignment_team=network_team)
    notified = Notification.objects.filter(event="change.created")
    assert list(notified.values_list("recipient__username", flat=True)) == ["nina"]
    assert change.number in notified.get().title


def test_the_impacted_cis_and_business_services_come_from_the_cmdb(alice, estate):
    change = services.create_change(user=alice, title="Patch db01", affected_cis=[estate["db"].pk])
    assert set(change.impacted_cis.all()) == {estate["app"], estate["shop"], estate["payroll"]}
    assert set(change.impacted_services.all()) == {estate["shop"], estate["payroll"]}
    assert estate["db"] not in change.impacted_cis.all()


def test_an_affected_business_service_counts_among_the_impacted_services(alice, estate):
    change = services.create_change(user=alice, title="Shop maintenance page", affected_cis=[estate["shop"]])
    assert list(change.impacted_cis.all()) == []
    assert list(change.impacted_services.all()) == [estate["shop"]]


def test_the_risk_is_assessed_when_the_change_is_requested(alice, estate):
    change = services.create_change(user=alice, title="Patch db01", affected_cis=[estate["db"]])
    # critical CI 6 + production 4 + two services 4 = 14
    assert (change.risk_score, change.risk_level) == (14, "moderate")
    assert [factor["factor"] for factor in change.risk_factors] == [
        "questionnaire",
        "criticality",
        "environment",
        "services",
    ]


def test_an_assignee_given_without_a_team_brings_their_only_team(alice, network_team):
    change = services.create_change(user=alice, title="Move the rack", assignee=alice)
    assert change.assignment_team == network_team


def test_related_objects_may_be_given_by_id(alice, network_team, estate):
    change = services.create_change(
        user=alice,
        title="By ids",
        assignment_team=network_team.pk,
        assignee=str(alice.pk),
        affected_cis=[estate["app"].pk],
        risk_answers=calm_answers(),
        planned_start="2031-05-04T22:00:00+02:00",
        planned_end="2031-05-04T23:30:00+02:00",
    )
    assert (change.assignment_team, change.assignee) == (network_team, alice)
    assert list(change.affected_cis.all()) == [estate["app"]]
    assert change.risk_answers.count() == 5
    assert change.planned_end - change.planned_start == timedelta(minutes=90)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": "  "}, "title"),
        ({"type": "urgent"}, "type"),
        ({"planned_start": "2031-05-04T22:00:00Z", "planned_end": "2031-05-04T21:00:00Z"}, "planned_end"),
        ({"planned_start": "2031-05-04T22:00:00Z", "planned_end": "2031-05-04T22:00:00Z"}, "planned_end"),
        ({"planned_start": "next tuesday"}, "planned_start"),
        ({"affected_cis": [999_999]}, "affected_cis"),
        ({"affected_cis": ["db01"]}, "affected_cis"),
        ({"incidents": [999_999]}, "incidents"),
        ({"risk_answers": [999_999]}, "risk_answers"),
        ({"assignment_team": 999_999}, "assignment_team"),
        ({"state": "scheduled"}, "state"),
        ({"risk_score": 0}, "risk_score"),
        ({"type": "standard"}, "template"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(alice, fields, field):
    before = written()
    with pytest.raises(ValidationError) as caught:
        services.create_change(user=alice, **{"title": "Bad", **fields})
    assert field in caught.value.message_dict
    assert written() == before


def test_every_bad_field_is_reported_at_once(alice):
    with pytest.raises(ValidationError) as caught:
        services.create_change(
            user=alice,
            title="",
            planned_start="2031-05-04T22:00:00Z",
            planned_end="2031-05-04T21:00:00Z",
            affected_cis=[999_999],
        )
    assert set(caught.value.message_dict) == {"title", "planned_end", "affected_cis"}


def test_an_assignee_outside_the_team_or_without_the_agent_role_is_refused(alice, bob, victor, network_team):
    with pytest.raises(ValidationError) as caught:
        services.create_change(user=alice, title="X", assignment_team=network_team, assignee=bob)
    assert "not a member of Network" in caught.value.message_dict["assignee"][0]
    network_team.members.add(victor)
    with pytest.raises(ValidationError) as caught:
        services.create_change(user=alice, title="X", assignment_team=network_team, assignee=victor)
    assert "no agent role" in caught.value.message_dict["assignee"][0]


def test_a_retired_category_is_refused(alice):
    retired = Category.objects.create(name="Legacy", active=False)
    with pytest.raises(ValidationError) as caught:
        services.create_change(user=alice, title="X", category=retired)
    assert list(caught.value.message_dict) == ["category"]


def test_two_answers_to_one_question_are_refused(alice):
    first, second = RiskOption.objects.filter(question__order=1)[:2]
    with pytest.raises(ValidationError) as caught:
        services.create_change(user=alice, title="X", risk_answers=[first, second])
    assert "One answer per question" in caught.value.message_dict["risk_answers"][0]


def test_a_closed_incident_cannot_wait_for_a_change(alice):
    incident = open_incident(alice)
    from incidents.services import incidents

    incidents.transition(incident, "canceled", user=alice, note="Duplicate.")
    before = written()
    with pytest.raises(ValidationError) as caught:
        services.create_change(user=alice, title="X", incidents=[incident])
    assert "canceled" in caught.value.message_dict["incidents"][0]
    assert written() == before


# --- standard changes -------------------------------------------------------------------------


def test_a_standard_change_takes_its_templates_plans_team_category_and_risk_level(alice, network_team, estate):
    category = Category.objects.create(name="Patching")
    template = TemplateFactory(
        name="Patch a database",
        assignment_team=network_team,
        category=category,
        risk_level="low",
        test_plan="Check replication.",
    )
    change = services.create_change(
        user=alice, title="Patch db01", template=template, affected_cis=[estate["db"]], implementation_plan="Other"
    )
    assert (change.type, change.template) == (T.STANDARD, template)
    assert (change.implementation_plan, change.backout_plan, change.test_plan) == (
        template.implementation_plan,
        template.backout_plan,
        "Check replication.",
    )
    assert (change.assignment_team, change.category) == (network_team, category)
    assert change.risk_score == 14 and change.risk_level == "low"  # the template's level, whatever the score
    assert "template" in change.timeline.first().body


@pytest.mark.parametrize("state", ["draft", "retired"])
def test_only_an_approved_template_makes_a_standard_change(alice, state):
    template = TemplateFactory(state=state)
    with pytest.raises(ValidationError) as caught:
        services.create_change(user=alice, title="X", template=template)
    assert state in caught.value.message_dict["template"][0]


def test_a_template_does_not_make_a_normal_or_emergency_change(alice):
    with pytest.raises(ValidationError) as caught:
        services.create_change(user=alice, title="X", type=T.NORMAL, template=TemplateFactory())
    assert list(caught.value.message_dict) == ["template"]


def test_a_template_for_some_ci_classes_refuses_cis_of_others(alice, estate):
    template = TemplateFactory(name="Patch a database")
    template.ci_classes.add(ci_class("database"))
    services.create_change(user=alice, title="OK", template=template, affected_cis=[estate["db"]])
    with pytest.raises(ValidationError) as caught:
        services.create_change(user=alice, title="X", template=template, affected_cis=[estate["app"]])
    assert "shop-app" in caught.value.message_dict["affected_cis"][0]


# --- editing ----------------------------------------------------------------------------------


def test_editing_plain_fields_stores_them_and_an_edit_that_changes_nothing_writes_nothing(alice):
    change = services.create_change(user=alice, title="Old title")
    change = services.update_change(change, user=alice, title=" New title ", description="Why and how.")
    change.refresh_from_db()
    assert (change.title, change.description) == ("New title", "Why and how.")
    before = written()
    services.update_change(change, user=alice, title="New title", description="Why and how.")
    assert written() == before


def test_a_schedule_change_is_on_the_timeline_with_the_old_and_new_window(alice):
    first, second = window(days=3), window(days=5)
    change = services.create_change(user=alice, title="Reboot", **first)
    change = services.update_change(change, user=alice, **second)
    line = change.timeline.filter(kind=ChangeTimelineKind.SCHEDULE).get()
    assert line.data["from"] == [first["planned_start"].isoformat(), first["planned_end"].isoformat()]
    assert line.data["to"] == [second["planned_start"].isoformat(), second["planned_end"].isoformat()]


def test_an_end_before_the_start_is_refused_and_nothing_changes(alice):
    change = services.create_change(user=alice, title="Reboot", **window())
    before = written()
    with pytest.raises(ValidationError) as caught:
        services.update_change(change, user=alice, planned_end=change.planned_start - timedelta(hours=1))
    assert list(caught.value.message_dict) == ["planned_end"]
    assert written() == before


def test_an_assignment_is_on_the_timeline_and_the_new_assignee_is_told(alice, nina, network_team):
    change = services.create_change(user=alice, title="Reboot", assignment_team=network_team)
    change = services.update_change(change, user=alice, assignee=nina)
    line = change.timeline.filter(kind=ChangeTimelineKind.ASSIGNMENT).last()
    assert line.data["to_assignee"] == "nina" and line.data["from_assignee"] is None
    assert Notification.objects.filter(event="change.assigned", recipient=nina).exists()


def test_moving_to_another_team_drops_an_assignee_who_is_not_in_it(alice, network_team, database_team):
    change = services.create_change(user=alice, title="Reboot", assignment_team=network_team, assignee=alice)
    change = services.update_change(change, user=alice, assignment_team=database_team)
    assert (change.assignment_team, change.assignee) == (database_team, None)


def test_new_cis_refresh_the_impact_and_reassess_the_risk(alice, estate):
    change = services.create_change(user=alice, title="Patch", affected_cis=[estate["app"]])
    assert change.risk_level == "low"
    change = services.update_change(change, user=alice, affected_cis=[estate["db"]])
    assert set(change.impacted_services.all()) == {estate["shop"], estate["payroll"]}
    assert change.risk_level == "moderate"
    line = change.timeline.filter(kind=ChangeTimelineKind.RISK).get()
    assert (line.data["from_level"], line.data["to_level"]) == ("low", "moderate")


def test_the_type_changes_only_while_the_change_is_new_and_never_to_standard(cast):
    change = change_in(S.NEW, cast, T.NORMAL)
    assert services.update_change(change, user=cast.requester, type=T.EMERGENCY).type == T.EMERGENCY
    with pytest.raises(ValidationError) as caught:
        services.update_change(change, user=cast.requester, type=T.STANDARD)
    assert "template" in caught.value.message_dict["type"][0]
    change = change_in(S.ASSESS, cast, T.NORMAL)
    with pytest.raises(ValidationError) as caught:
        services.update_change(change, user=cast.requester, type=T.EMERGENCY)
    assert list(caught.value.message_dict) == ["type"]


def test_a_standard_change_made_normal_leaves_its_template(cast):
    change = change_in(S.NEW, cast, T.STANDARD)
    change = services.update_change(change, user=cast.requester, type=T.NORMAL)
    assert (change.type, change.template) == (T.NORMAL, None)


def test_the_state_and_system_fields_cannot_be_edited(alice):
    change = services.create_change(user=alice, title="Reboot")
    with pytest.raises(ValidationError) as caught:
        services.update_change(change, user=alice, state="closed", approved_at=None)
    assert set(caught.value.message_dict) == {"state", "approved_at"}


@pytest.mark.parametrize("state", [S.CLOSED, S.CANCELED])
def test_a_closed_or_canceled_change_can_no_longer_be_edited(cast, state):
    change = change_in(state, cast, T.NORMAL)
    with pytest.raises(Conflict):
        services.update_change(change, user=cast.requester, title="Too late")


# --- approvals reset --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"backout_plan": "Restore last night's snapshot."},
        {"planned_end": "2031-01-01T00:00:00Z"},
        {"affected_cis": []},
    ],
    ids=["plan", "schedule", "cis"],
)
def test_editing_the_plans_schedule_or_cis_under_approval_resets_the_approvals(cast, estate, fields):
    change = change_in(S.AUTHORIZE, cast, T.NORMAL, affected_cis=[estate["app"]])
    change = services.update_change(change, user=cast.requester, **fields)
    change.refresh_from_db()
    assert change.approval_round == 2
    assert list(change.approval_stages.order_by("round").values_list("round", "state")) == [
        (1, StageState.RESET),
        (2, StageState.PENDING),
    ]


def test_editing_the_title_or_resubmitting_the_same_plan_keeps_the_approvals(cast):
    change = change_in(S.AUTHORIZE, cast, T.NORMAL)
    plan = change.implementation_plan.replace("\n", "\r\n") + "\r\n"  # as a browser's text area sends it
    change = services.update_change(change, user=cast.requester, title="Clearer title", implementation_plan=plan)
    change.refresh_from_db()
    assert change.approval_round == 1
    assert list(change.approval_stages.values_list("state", flat=True)) == [StageState.PENDING]


def test_a_scheduled_change_whose_schedule_moves_goes_back_to_authorize(cast):
    change = change_in(S.SCHEDULED, cast, T.NORMAL)
    change = services.update_change(change, user=cast.requester, **window(days=6))
    change.refresh_from_db()
    assert change.state == S.AUTHORIZE and change.approved_at is None and change.approval_round == 2


def test_editing_a_change_before_approval_was_asked_resets_nothing(cast):
    change = change_in(S.ASSESS, cast, T.NORMAL)
    change = services.update_change(change, user=cast.requester, backout_plan="Something else.")
    assert change.approval_round == 0 and not change.approval_stages.exists()


# --- work notes -------------------------------------------------------------------------------


def test_a_work_note_is_on_the_timeline_even_on_a_closed_change(cast):
    change = change_in(S.CLOSED, cast, T.NORMAL)
    entry = services.add_note(change, user=cast.requester, body="  Lessons learnt: book a longer window. ")
    assert (entry.kind, entry.body, entry.author) == (
        ChangeTimelineKind.NOTE,
        "Lessons learnt: book a longer window.",
        cast.requester,
    )


def test_an_empty_note_is_refused(alice):
    change = services.create_change(user=alice, title="Reboot")
    with pytest.raises(ValidationError) as caught:
        services.add_note(change, user=alice, body=" \n ")
    assert list(caught.value.message_dict) == ["body"]


def test_state_changes_tell_the_requester_and_the_assignee_but_not_the_one_who_acted(cast, bob, database_team):
    change = change_in(S.NEW, cast, T.NORMAL, assignment_team=database_team, assignee=bob)
    services.transition(change, S.ASSESS, user=cast.requester)
    told = Notification.objects.filter(event="change.state_changed")
    assert list(told.values_list("recipient__username", flat=True)) == ["bob"]
