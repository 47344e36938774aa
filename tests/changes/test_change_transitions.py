"""The change state machine, per type: every move of the table succeeds, every other move is
refused with the allowed states (409), and a move missing what it needs is a 400 naming the
field or a 409 saying why — with nothing written either way."""

from datetime import timedelta
from itertools import product

import pytest
from django.core.exceptions import ValidationError

from changes.choices import CHANGE_TRANSITIONS, ChangeState, ChangeTimelineKind, ChangeType, StageState
from changes.models import ApprovalPolicy, ChangeRequest, ChangeTimelineEntry
from changes.services import changes as services
from itom.api.exceptions import Conflict, TransitionNotAllowed
from itom.models import ObjectChange
from tests.changes.journeys import NEEDS, PATHS, Cast, approve, change_in, ready_change
from tests.factories import BlackoutWindowFactory

pytestmark = pytest.mark.django_db

S, T = ChangeState, ChangeType
# Moves the table lists that need more than the table: authorize → scheduled waits for the
# approvals (tested apart), an emergency change is reviewed before it closes.
SPECIAL = {
    (T.NORMAL, S.AUTHORIZE, S.SCHEDULED),
    (T.EMERGENCY, S.AUTHORIZE, S.SCHEDULED),
    (T.EMERGENCY, S.IMPLEMENT, S.CLOSED),
}
ALLOWED = [
    (kind, source, target)
    for kind, table in CHANGE_TRANSITIONS.items()
    for source, targets in table.items()
    for target in targets
    if (kind, source, target) not in SPECIAL
]
REFUSED = [
    (kind, source, target)
    for kind, table in CHANGE_TRANSITIONS.items()
    for source, target in product(table, S)
    if target not in table[source]
]


def ids(cases):
    return [f"{kind}:{source}->{target}" for kind, source, target in cases]


@pytest.fixture
def cast(alice, network_team, nina, ecab, erin):
    return Cast(requester=alice, team=network_team, approvers={T.NORMAL: nina, T.EMERGENCY: erin})


def footprint(change):
    change.refresh_from_db()
    return (
        change.state,
        change.approval_round,
        change.approved_at,
        change.close_code,
        change.emergency_justification,
        ChangeTimelineEntry.objects.count(),
        ObjectChange.objects.count(),
    )


def test_every_type_reaches_every_state_of_its_table_and_the_lists_are_complete():
    for kind, table in CHANGE_TRANSITIONS.items():
        assert set(PATHS[kind]) == set(table)
    assert len(ALLOWED) + len(SPECIAL) + len(REFUSED) == sum(
        len(table) * len(S) for table in CHANGE_TRANSITIONS.values()
    )


@pytest.mark.parametrize(("kind", "source", "target"), ALLOWED, ids=ids(ALLOWED))
def test_every_move_of_the_table_succeeds_and_is_on_the_timeline(cast, kind, source, target):
    change = change_in(source, cast, kind)
    assert target in services.allowed_transitions(change)
    change = services.transition(change, target, user=cast.requester, **NEEDS.get(target, {}))
    change.refresh_from_db()
    assert change.state == target
    line = change.timeline.filter(kind=ChangeTimelineKind.STATE).last()
    assert (line.data["from"], line.data["to"]) == (source, target)
    assert line.author == cast.requester


@pytest.mark.parametrize(("kind", "source", "target"), REFUSED, ids=ids(REFUSED))
def test_every_other_move_is_refused_with_the_allowed_states_and_writes_nothing(cast, kind, source, target):
    change = change_in(source, cast, kind)
    before = footprint(change)
    with pytest.raises(TransitionNotAllowed) as caught:
        services.transition(change, target, user=cast.requester, **NEEDS.get(target, {}))
    assert caught.value.current == source and caught.value.requested == target
    assert caught.value.allowed == services.allowed_transitions(change)
    assert footprint(change) == before


def test_an_unknown_state_is_a_400_naming_the_state(cast):
    change = ready_change(cast)
    with pytest.raises(ValidationError) as caught:
        services.transition(change, "done", user=cast.requester)
    assert "state" in caught.value.message_dict


# --- authorize ---------------------------------------------------------------------------------


def test_asking_for_approval_needs_the_plans_and_the_window_each_named(cast, alice):
    change = services.create_change(user=alice, title="Half-planned", type=T.EMERGENCY)
    before = footprint(change)
    with pytest.raises(ValidationError) as caught:
        services.transition(change, S.AUTHORIZE, user=alice)
    assert set(caught.value.message_dict) == {"implementation_plan", "backout_plan", "planned_start", "planned_end"}
    assert footprint(change) == before


def test_a_normal_change_needs_every_active_risk_question_answered_before_approval(cast):
    change = change_in(S.ASSESS, cast, T.NORMAL, risk_answers=[])
    with pytest.raises(ValidationError) as caught:
        services.transition(change, S.AUTHORIZE, user=cast.requester)
    assert list(caught.value.message_dict) == ["risk_answers"]
    assert "5 left" in caught.value.message_dict["risk_answers"][0]


def test_an_emergency_change_skips_the_questionnaire(cast):
    change = change_in(S.AUTHORIZE, cast, T.EMERGENCY)
    assert change.approval_round == 1 and change.approved_at is None


def test_entering_authorize_starts_an_approval_round_whose_first_stage_awaits(cast):
    change = change_in(S.AUTHORIZE, cast, T.NORMAL)
    stages = list(change.approval_stages.values_list("name", "state"))
    assert stages == [("Technical review", StageState.PENDING)]
    assert services.allowed_transitions(change) == [S.NEW, S.CANCELED]


def test_a_change_no_policy_covers_is_approved_and_scheduled_at_once(cast):
    ApprovalPolicy.objects.filter(change_type=T.NORMAL).update(active=False)
    change = change_in(S.ASSESS, cast, T.NORMAL)
    change = services.transition(change, S.AUTHORIZE, user=cast.requester)
    change.refresh_from_db()
    assert change.state == S.SCHEDULED
    assert change.approved_at is not None
    moves = [(line.data["from"], line.data["to"]) for line in change.timeline.filter(kind=ChangeTimelineKind.STATE)]
    assert moves[-2:] == [(S.ASSESS, S.AUTHORIZE), (S.AUTHORIZE, S.SCHEDULED)]


# --- scheduled ---------------------------------------------------------------------------------


def test_scheduling_by_hand_before_the_approvals_is_a_409_naming_the_stage_awaited(cast):
    change = change_in(S.AUTHORIZE, cast, T.NORMAL)
    before = footprint(change)
    with pytest.raises(Conflict) as caught:
        services.transition(change, S.SCHEDULED, user=cast.requester)
    assert "awaits approval" in str(caught.value.detail) and "Technical review" in str(caught.value.detail)
    assert footprint(change) == before


def test_the_last_approval_schedules_the_change(cast, nina):
    change = approve(change_in(S.AUTHORIZE, cast, T.NORMAL), nina)
    assert change.state == S.SCHEDULED
    line = change.timeline.filter(kind=ChangeTimelineKind.STATE).last()
    assert (line.data["from"], line.data["to"]) == (S.AUTHORIZE, S.SCHEDULED)


def test_an_approval_into_a_blackout_leaves_the_change_in_authorize_until_scheduled_by_hand(cast, nina):
    change = change_in(S.AUTHORIZE, cast, T.NORMAL)
    freeze = BlackoutWindowFactory(
        name="Year-end freeze",
        start=change.planned_start - timedelta(days=1),
        end=change.planned_end + timedelta(days=1),
    )
    change = approve(change, nina)
    assert change.state == S.AUTHORIZE and change.approved_at is not None
    system = change.timeline.filter(kind=ChangeTimelineKind.SYSTEM).last()
    assert "not scheduled" in system.body and "Year-end freeze" in system.body
    assert S.SCHEDULED in services.allowed_transitions(change)
    with pytest.raises(Conflict):
        services.transition(change, S.SCHEDULED, user=cast.requester)

    freeze.active = False
    freeze.save()
    change = services.transition(change, S.SCHEDULED, user=cast.requester)
    assert change.state == S.SCHEDULED


def test_scheduling_into_a_blackout_is_a_409_naming_the_window_and_its_dates(cast):
    change = change_in(S.NEW, cast, T.STANDARD)
    BlackoutWindowFactory(
        name="Black Friday",
        start=change.planned_start - timedelta(hours=1),
        end=change.planned_end + timedelta(hours=1),
    )
    before = footprint(change)
    with pytest.raises(Conflict) as caught:
        services.transition(change, S.SCHEDULED, user=cast.requester, emergency_justification="Really needed.")
    message = str(caught.value.detail)
    assert "Black Friday" in message
    assert str(change.planned_start.astimezone().year) in message
    assert "only an emergency change" in message
    assert footprint(change) == before


def test_an_emergency_change_goes_into_a_blackout_only_with_a_written_justification(cast, erin):
    change = change_in(S.AUTHORIZE, cast, T.EMERGENCY)
    BlackoutWindowFactory(name="Freeze", start=change.planned_start, end=change.planned_end)
    change = approve(change, erin)
    assert change.state == S.AUTHORIZE  # no justification yet
    with pytest.raises(Conflict) as caught:
        services.transition(change, S.SCHEDULED, user=cast.requester, emergency_justification="  ")
    assert "emergency justification" in str(caught.value.detail)

    change = services.transition(
        change, S.SCHEDULED, user=cast.requester, emergency_justification="The shop is down: this is the fix."
    )
    change.refresh_from_db()
    assert change.state == S.SCHEDULED
    assert change.emergency_justification == "The shop is down: this is the fix."
    line = change.timeline.filter(kind=ChangeTimelineKind.STATE).last()
    assert [window["name"] for window in line.data["blackouts"]] == ["Freeze"]


def test_a_stored_emergency_justification_lets_the_last_approval_schedule_into_a_blackout(cast, erin):
    change = change_in(S.AUTHORIZE, cast, T.EMERGENCY, emergency_justification="Payments fail for everyone.")
    BlackoutWindowFactory(start=change.planned_start, end=change.planned_end)
    assert approve(change, erin).state == S.SCHEDULED


def test_a_change_whose_window_was_cleared_is_approved_but_not_scheduled(cast, nina):
    change = change_in(S.AUTHORIZE, cast, T.NORMAL)
    ChangeRequest.objects.filter(pk=change.pk).update(planned_start=None, planned_end=None)
    change = approve(change, nina)
    assert change.state == S.AUTHORIZE
    assert "no planned window" in change.timeline.filter(kind=ChangeTimelineKind.SYSTEM).last().body


# --- implement, review, closed -----------------------------------------------------------------


def test_implementing_records_the_actual_start_and_review_the_actual_end(cast):
    change = services.transition(change_in(S.SCHEDULED, cast, T.NORMAL), S.IMPLEMENT, user=cast.requester)
    assert change.actual_start is not None and change.actual_end is None
    change = services.transition(
        change, S.REVIEW, user=cast.requester, close_code="backed_out", close_notes="Rolled back."
    )
    assert change.actual_end >= change.actual_start
    assert (change.close_code, change.close_notes) == ("backed_out", "Rolled back.")


def test_review_and_close_need_a_known_close_code(cast):
    change = change_in(S.IMPLEMENT, cast, T.NORMAL)
    for target in (S.REVIEW, S.CLOSED):
        with pytest.raises(ValidationError) as caught:
            services.transition(change, target, user=cast.requester)
        assert list(caught.value.message_dict) == ["close_code"]
    with pytest.raises(ValidationError) as caught:
        services.transition(change, S.CLOSED, user=cast.requester, close_code="fine")
    assert list(caught.value.message_dict) == ["close_code"]


def test_a_successful_normal_change_closes_straight_from_implement(cast):
    change = change_in(S.IMPLEMENT, cast, T.NORMAL)
    change = services.transition(change, S.CLOSED, user=cast.requester, close_code="successful")
    assert change.state == S.CLOSED and change.closed_at is not None and change.actual_end is not None


@pytest.mark.parametrize("code", ["unsuccessful", "backed_out"])
def test_an_unsuccessful_change_is_reviewed_before_it_closes(cast, code):
    change = change_in(S.IMPLEMENT, cast, T.NORMAL)
    before = footprint(change)
    with pytest.raises(Conflict) as caught:
        services.transition(change, S.CLOSED, user=cast.requester, close_code=code)
    assert "post-implementation review" in str(caught.value.detail)
    assert footprint(change) == before


def test_an_emergency_change_is_always_reviewed_and_closing_it_from_implement_is_not_offered(cast):
    change = change_in(S.IMPLEMENT, cast, T.EMERGENCY)
    assert services.allowed_transitions(change) == [S.REVIEW]
    with pytest.raises(Conflict):
        services.transition(change, S.CLOSED, user=cast.requester, close_code="successful")


def test_closing_a_change_that_needs_a_review_needs_the_review_notes(cast):
    change = change_in(S.REVIEW, cast, T.EMERGENCY)
    with pytest.raises(ValidationError) as caught:
        services.transition(change, S.CLOSED, user=cast.requester, close_code="successful")
    assert list(caught.value.message_dict) == ["review_notes"]
    change = services.transition(
        change,
        S.CLOSED,
        user=cast.requester,
        close_code="successful",
        review_notes="Root cause fixed; no side effects.",
    )
    assert change.review_notes == "Root cause fixed; no side effects."


def test_a_successful_normal_change_closes_from_review_without_review_notes(cast):
    change = change_in(S.REVIEW, cast, T.NORMAL)
    change = services.transition(change, S.CLOSED, user=cast.requester)
    assert change.state == S.CLOSED and change.close_code == "successful"


# --- back to new, canceled ---------------------------------------------------------------------


@pytest.mark.parametrize("target", [S.NEW, S.CANCELED])
def test_sending_back_or_canceling_needs_a_note(cast, target):
    change = change_in(S.AUTHORIZE, cast, T.NORMAL)
    before = footprint(change)
    with pytest.raises(ValidationError) as caught:
        services.transition(change, target, user=cast.requester, note=" ")
    assert list(caught.value.message_dict) == ["note"]
    assert footprint(change) == before


def test_sending_a_change_back_closes_its_approval_round(cast):
    change = change_in(S.AUTHORIZE, cast, T.NORMAL)
    change = services.transition(change, S.NEW, user=cast.requester, note="The window moves.")
    assert list(change.approval_stages.values_list("state", flat=True)) == [StageState.RESET]
    assert change.approved_at is None
    assert change.timeline.filter(kind=ChangeTimelineKind.STATE).last().body == "The window moves."


def test_canceling_records_when_and_why(cast):
    change = services.transition(
        change_in(S.SCHEDULED, cast, T.NORMAL), S.CANCELED, user=cast.requester, note="Obsolete."
    )
    assert change.state == S.CANCELED and change.closed_at is not None
    assert services.allowed_transitions(change) == []


def test_a_standard_change_is_scheduled_without_any_approval(cast):
    change = change_in(S.SCHEDULED, cast, T.STANDARD)
    assert change.approval_round == 0 and not change.approval_stages.exists()
    assert change.approved_at is None
