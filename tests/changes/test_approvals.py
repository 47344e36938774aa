"""Approval rounds through ``changes.services.approvals``: the stages each seeded policy gives,
who may decide them (segregation of duties: not the requester, not the assignee; only approvers
of the stage's group), approving twice, rejection back to ``new``, the reset of the approvals when
the plans, the schedule or the CIs change, and the "awaiting my approval" list.

Changes are made and moved the way the product does it (``changes.services.changes``)."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from changes.choices import ChangeTimelineKind, Decision, StageState
from changes.models import ApprovalPolicy, ApprovalPolicyStage, ChangeApproval, ChangeApprovalStage, RiskQuestion
from changes.services import approvals
from changes.services import changes as change_services
from itom.api.exceptions import Conflict
from itom.models import Notification
from itom.roles import MANAGER
from tests.factories import CIFactory, TeamFactory, UserFactory, new_change

PLANS = {"implementation_plan": "Upgrade the firmware.", "backout_plan": "Flash the previous image."}
pytestmark = pytest.mark.django_db

A, R = Decision.APPROVED, Decision.REJECTED


def lowest_answers():
    """The zero-point option of every active risk question (a low-risk questionnaire)."""
    return [
        question.options.order_by("score", "order").first().pk for question in RiskQuestion.objects.filter(active=True)
    ]


@pytest.fixture
def submit(maria, network_team):
    """``submit(requester, type=, risk=, **fields)``: a change made by ``requester`` for the
    Network team and moved to ``authorize``; ``risk`` is set by maria's override."""

    def make(requester, *, type="normal", risk=None, **fields):
        start = timezone.now() + timedelta(days=3)
        fields.setdefault("assignment_team", network_team)
        fields.setdefault("planned_start", start)
        fields.setdefault("planned_end", start + timedelta(hours=2))
        change = new_change(requester, type=type, risk_answers=lowest_answers(), **{**PLANS, **fields})
        if risk:
            change_services.override_risk(change, user=maria, level=risk, reason="Judged by the CAB chair.")
        if type == "normal":
            change_services.transition(change, "assess", user=requester)
        change_services.transition(change, "authorize", user=requester)
        change.refresh_from_db()
        return change

    return make


def stages(change):
    return [(s.name, s.state) for s in approvals.round_stages(change)]


def notified(event):
    return sorted(Notification.objects.filter(event=event).values_list("recipient__username", flat=True))


def lines(change, kind):
    return list(change.timeline.filter(kind=kind).order_by("pk"))


# --- policies and their stages ----------------------------------------------------------------


def test_the_policy_is_the_one_for_the_type_and_risk_else_the_types_catch_all(alice):
    from tests.factories import ChangeFactory

    names = {
        (t, r): getattr(approvals.policy_for(ChangeFactory(type=t, risk_level=r)), "name", None)
        for t, r in [("normal", "low"), ("normal", "high"), ("emergency", "very_high"), ("standard", "low")]
    }
    assert names == {
        ("normal", "low"): "Normal change, low risk",
        ("normal", "high"): "Normal change, high risk",
        ("emergency", "very_high"): "Emergency change",
        ("standard", "low"): None,
    }
    ApprovalPolicy.objects.create(name="Emergency, very high", change_type="emergency", risk_level="very_high")
    assert approvals.policy_for(ChangeFactory(type="emergency", risk_level="very_high")).name == "Emergency, very high"
    overridden = ChangeFactory(type="normal", risk_level="low", risk_override="high")
    assert approvals.policy_for(overridden).name == "Normal change, high risk"
    ApprovalPolicy.objects.filter(name="Normal change, high risk").update(active=False)
    assert approvals.policy_for(overridden) is None


def test_a_low_risk_change_needs_the_teams_technical_review(alice, nina, submit):
    change = submit(alice)
    assert change.state == "authorize" and change.approval_round == 1
    assert change.approval_requested_at is not None and change.approved_at is None
    assert stages(change) == [("Technical review", StageState.PENDING)]
    assert approvals.current_stage(change).name == "Technical review"
    assert notified("change.approval_requested") == ["nina"]
    requested = lines(change, ChangeTimelineKind.APPROVAL)[-1]
    assert "Technical review" in requested.body and requested.data["round"] == 1

    approvals.decide(change, user=nina, decision=A, comment="Looks safe.")

    change.refresh_from_db()
    assert change.state == "scheduled" and change.approved_at is not None
    assert stages(change) == [("Technical review", StageState.APPROVED)]
    assert approvals.current_stage(change) is None
    assert notified("change.approved") == ["alice"]
    decision = lines(change, ChangeTimelineKind.APPROVAL)[-1]
    assert decision.author == nina and "Looks safe." in decision.body
    assert decision.data["decision"] == "approved" and decision.data["stage_name"] == "Technical review"


def test_a_moderate_risk_change_goes_to_the_cab_after_the_technical_review(alice, nina, carol, dave, cab, submit):
    change = submit(alice, risk="moderate")
    assert stages(change) == [("Technical review", StageState.PENDING), ("CAB", StageState.WAITING)]
    with pytest.raises(PermissionDenied, match="Only approvers of the change's assignment team"):
        approvals.decide(change, user=carol, decision=A)

    approvals.decide(change, user=nina, decision=A)

    change.refresh_from_db()
    assert change.state == "authorize"
    assert stages(change) == [("Technical review", StageState.APPROVED), ("CAB", StageState.PENDING)]
    assert notified("change.approval_requested") == ["carol", "dave", "nina"]
    approvals.decide(change, user=carol, decision=A)
    change.refresh_from_db()
    assert change.state == "scheduled"


def test_a_high_risk_change_needs_two_cab_approvals(alice, nina, carol, dave, cab, submit):
    change = submit(alice, risk="high")
    approvals.decide(change, user=nina, decision=A)
    approvals.decide(change, user=carol, decision=A)
    change.refresh_from_db()
    assert change.state == "authorize"
    assert stages(change)[1] == ("CAB", StageState.PENDING)
    assert "(1 of 2)" in lines(change, ChangeTimelineKind.APPROVAL)[-1].body

    approvals.decide(change, user=dave, decision=A)

    change.refresh_from_db()
    assert change.state == "scheduled"
    assert stages(change) == [("Technical review", StageState.APPROVED), ("CAB", StageState.APPROVED)]


def test_a_very_high_risk_change_needs_the_cab_then_a_manager(alice, carol, dave, cab, maria, submit):
    change = submit(alice, risk="very_high")
    assert stages(change) == [("CAB", StageState.PENDING), ("Manager sign-off", StageState.WAITING)]
    approvals.decide(change, user=carol, decision=A)
    approvals.decide(change, user=dave, decision=A)
    with pytest.raises(PermissionDenied, match="Only managers may decide the stage “Manager sign-off”"):
        approvals.decide(change, user=carol, decision=A)
    approvals.decide(change, user=maria, decision=A)
    change.refresh_from_db()
    assert change.state == "scheduled"


def test_an_emergency_change_goes_to_the_emergency_cab(alice, erin, ecab, carol, cab, submit):
    change = submit(alice, type="emergency")
    assert stages(change) == [("Emergency CAB", StageState.PENDING)]
    with pytest.raises(PermissionDenied):
        approvals.decide(change, user=carol, decision=A)
    approvals.decide(change, user=erin, decision=A)
    change.refresh_from_db()
    assert change.state == "scheduled"


def test_without_a_policy_no_approval_is_needed_and_the_change_is_scheduled(alice, submit):
    ApprovalPolicy.objects.filter(change_type="normal").update(active=False)
    change = submit(alice)
    assert change.state == "scheduled"
    assert change.approved_at is not None and change.approval_round == 1
    assert not ChangeApprovalStage.objects.filter(change=change).exists()
    assert "No approval needed" in lines(change, ChangeTimelineKind.APPROVAL)[-1].body


def test_a_policy_without_stages_needs_no_approval(alice, submit):
    ApprovalPolicyStage.objects.filter(policy__name="Normal change, low risk").delete()
    change = submit(alice)
    assert change.state == "scheduled"
    assert "has no stages" in lines(change, ChangeTimelineKind.APPROVAL)[-1].body


# --- who may decide ---------------------------------------------------------------------------


def test_the_requester_cannot_approve_their_own_change(nina, submit):
    change = submit(nina)
    stage = approvals.current_stage(change)
    assert nina not in approvals.eligible_approvers(stage)
    with pytest.raises(PermissionDenied, match="You can't approve your own change"):
        approvals.decide(change, user=nina, decision=A)
    assert not ChangeApproval.objects.exists()


def test_the_assignee_cannot_approve_the_change(alice, nina, submit):
    change = submit(alice, assignee=nina)
    assert list(approvals.eligible_approvers(approvals.current_stage(change))) == []
    with pytest.raises(PermissionDenied, match="assigned to you"):
        approvals.decide(change, user=nina, decision=A)
    change.refresh_from_db()
    assert change.state == "authorize"


def test_team_members_without_the_approver_role_inactive_users_and_outsiders_cannot_approve(
    alice, bob, victor, plain_agent, network_team, nina, submit
):
    retired = UserFactory(username="olga", roles=["approver"], is_active=False)
    network_team.members.add(plain_agent, retired)
    change = submit(alice)
    assert list(approvals.eligible_approvers(approvals.current_stage(change))) == [nina]
    for user in (plain_agent, retired, bob, victor):
        with pytest.raises(PermissionDenied) as refused:
            approvals.decide(change, user=user, decision=A)
        assert "Only approvers of the change's assignment team (Network)" in str(refused.value)
    assert not ChangeApproval.objects.exists()


def test_the_team_lead_and_superusers_in_the_team_may_approve(alice, root, submit):
    lead = UserFactory(username="lena", roles=["approver"])
    team = TeamFactory(name="Storage", lead=lead, members=[alice, root])
    change = submit(alice, assignment_team=team)
    assert [u.username for u in approvals.eligible_approvers(approvals.current_stage(change))] == ["lena", "root"]


def test_a_stage_of_a_change_without_a_team_falls_to_the_managers(alice, maria, nina, submit):
    change = submit(alice, assignment_team=None)
    stage = approvals.current_stage(change)
    assert list(approvals.eligible_approvers(stage)) == [maria]
    with pytest.raises(PermissionDenied, match="Only managers"):
        approvals.decide(change, user=nina, decision=A)
    approvals.decide(change, user=maria, decision=A)
    change.refresh_from_db()
    assert change.state == "scheduled"


def test_approving_twice_is_a_conflict_and_writes_nothing_more(alice, nina, carol, cab, submit):
    change = submit(alice, risk="high")
    approvals.decide(change, user=nina, decision=A)
    approvals.decide(change, user=carol, decision=A)
    with pytest.raises(Conflict, match="You already approved the stage “CAB”"):
        approvals.decide(change, user=carol, decision=A)
    assert ChangeApproval.objects.filter(approver=carol).count() == 1
    change.refresh_from_db()
    assert change.state == "authorize"


def test_a_waiting_stage_cannot_be_decided_yet(alice, carol, cab, submit):
    change = submit(alice, risk="moderate")
    cab_stage = approvals.round_stages(change)[1]
    with pytest.raises(Conflict, match="not awaiting approval"):
        approvals.check_can_decide(cab_stage, carol)
    assert approvals.can_decide(approvals.current_stage(change), carol) is False


def test_a_change_not_in_authorize_takes_no_decision(alice, nina, network_team):
    change = new_change(alice, assignment_team=network_team)
    with pytest.raises(Conflict, match="not awaiting approval: it is new"):
        approvals.decide(change, user=nina, decision=A)


def test_a_decision_must_be_approved_or_rejected(alice, nina, submit):
    change = submit(alice)
    with pytest.raises(ValidationError) as refused:
        approvals.decide(change, user=nina, decision="maybe")
    assert "decision" in refused.value.message_dict
    assert not ChangeApproval.objects.exists()


# --- rejection --------------------------------------------------------------------------------


def test_a_rejection_needs_a_comment_and_nothing_is_written_without_one(alice, nina, submit):
    change = submit(alice)
    with pytest.raises(ValidationError) as refused:
        approvals.decide(change, user=nina, decision=R, comment="   ")
    assert refused.value.message_dict == {"comment": ["Say why the change is rejected."]}
    change.refresh_from_db()
    assert change.state == "authorize" and not ChangeApproval.objects.exists()


def test_one_rejection_sends_the_change_back_to_new(alice, nina, carol, cab, submit):
    change = submit(alice, risk="moderate")
    Notification.objects.all().delete()
    approvals.decide(change, user=nina, decision=R, comment="The backout plan is missing a step.")

    change.refresh_from_db()
    assert change.state == "new" and change.approved_at is None
    assert stages(change) == [("Technical review", StageState.REJECTED), ("CAB", StageState.RESET)]
    move = lines(change, ChangeTimelineKind.STATE)[-1]
    assert move.data == {"from": "authorize", "to": "new"}
    assert "The backout plan is missing a step." in move.body and move.author == nina
    assert notified("change.rejected") == ["alice"]
    assert "rejected" in Notification.objects.get(event="change.rejected").title


def test_a_rejected_change_resubmitted_starts_a_fresh_round(alice, nina, submit):
    change = submit(alice)
    approvals.decide(change, user=nina, decision=R, comment="Not this week.")
    change_services.transition(change, "assess", user=alice)
    change_services.transition(change, "authorize", user=alice)
    change.refresh_from_db()
    assert change.approval_round == 2
    assert stages(change) == [("Technical review", StageState.PENDING)]
    approvals.decide(change, user=nina, decision=A)  # a new stage: nina decides again
    change.refresh_from_db()
    assert change.state == "scheduled"


# --- reset after edits ------------------------------------------------------------------------


@pytest.fixture
def approved(alice, nina, submit):
    """A low-risk change approved by nina and scheduled; notifications cleared."""
    change = submit(alice)
    approvals.decide(change, user=nina, decision=A)
    change.refresh_from_db()
    assert change.state == "scheduled"
    Notification.objects.all().delete()
    return change


def test_moving_the_schedule_of_an_approved_change_resets_its_approvals(alice, approved):
    later = approved.planned_start + timedelta(days=1)
    change_services.update_change(approved, user=alice, planned_start=later, planned_end=later + timedelta(hours=1))

    approved.refresh_from_db()
    assert approved.state == "authorize" and approved.approval_round == 2 and approved.approved_at is None
    assert approvals.round_stages(approved, round=1)[0].state == StageState.RESET
    assert stages(approved) == [("Technical review", StageState.PENDING)]
    reset = [line for line in lines(approved, ChangeTimelineKind.APPROVAL) if line.data.get("reset")]
    assert len(reset) == 1 and reset[0].body == "Approvals reset: the schedule changed."
    assert lines(approved, ChangeTimelineKind.STATE)[-1].data == {"from": "scheduled", "to": "authorize"}
    assert notified("change.approvals_reset") == ["nina"]
    assert notified("change.approval_requested") == ["nina"]


@pytest.mark.parametrize(
    "field", ["implementation_plan", "backout_plan", "test_plan"], ids=lambda f: f.replace("_", " ")
)
def test_editing_a_plan_of_an_approved_change_resets_its_approvals(alice, approved, field):
    change_services.update_change(approved, user=alice, **{field: "A different plan."})
    approved.refresh_from_db()
    assert approved.state == "authorize" and approved.approval_round == 2
    assert approvals.current_stage(approved).name == "Technical review"


def test_changing_the_cis_of_an_approved_change_resets_its_approvals(alice, approved):
    change_services.update_change(approved, user=alice, affected_cis=[CIFactory(name="edge-01")])
    approved.refresh_from_db()
    assert approved.state == "authorize" and approved.approval_round == 2


def test_editing_the_title_of_an_approved_change_keeps_its_approvals(alice, approved):
    change_services.update_change(approved, user=alice, title="A clearer title", description="More words.")
    approved.refresh_from_db()
    assert approved.state == "scheduled" and approved.approval_round == 1 and approved.approved_at is not None
    assert not Notification.objects.filter(event="change.approvals_reset").exists()


def test_a_reset_change_that_now_needs_no_approval_is_scheduled_again(alice, approved):
    ApprovalPolicy.objects.filter(change_type="normal").update(active=False)
    change_services.update_change(approved, user=alice, test_plan="Ping the gateway afterwards.")
    approved.refresh_from_db()
    assert approved.state == "scheduled" and approved.approval_round == 2 and approved.approved_at is not None
    moves = [line.data for line in lines(approved, ChangeTimelineKind.STATE)][-2:]
    assert moves == [{"from": "scheduled", "to": "authorize"}, {"from": "authorize", "to": "scheduled"}]


def test_editing_a_plan_during_the_round_restarts_it(alice, nina, carol, cab, submit):
    change = submit(alice, risk="moderate")
    approvals.decide(change, user=nina, decision=A)
    Notification.objects.all().delete()

    change_services.update_change(change, user=alice, backout_plan="Restore from the snapshot.")

    change.refresh_from_db()
    assert change.state == "authorize" and change.approval_round == 2
    assert [s.state for s in approvals.round_stages(change, round=1)] == [StageState.RESET, StageState.RESET]
    assert stages(change) == [("Technical review", StageState.PENDING), ("CAB", StageState.WAITING)]
    assert notified("change.approvals_reset") == ["nina"]
    line = [entry for entry in lines(change, ChangeTimelineKind.APPROVAL) if entry.data.get("reset")][-1]
    assert line.body == "Approvals reset: the backout plan changed."


def test_no_reset_before_the_round_starts(alice, network_team):
    change = new_change(alice, assignment_team=network_team)
    assert approvals.reset_approvals(change, user=alice, reason=["planned_start"]) is False
    change.refresh_from_db()
    assert change.approval_round == 0


def test_canceling_a_change_under_approval_closes_its_round(alice, carol, cab, submit):
    change = submit(alice, risk="moderate")
    change_services.transition(change, "canceled", user=alice, note="No longer needed.")
    assert [s.state for s in approvals.round_stages(change)] == [StageState.RESET, StageState.RESET]
    assert not approvals.pending_for(carol).exists()


# --- awaiting my approval ---------------------------------------------------------------------


def test_pending_for_lists_what_each_approver_may_decide_now(alice, nina, carol, dave, cab, maria, submit):
    change = submit(alice, risk="high")
    other = submit(nina, risk="low")  # nina's own change: not hers to approve
    assert [s.change_id for s in approvals.pending_for(nina)] == [change.pk]
    assert not approvals.pending_for(carol).exists()
    assert not approvals.pending_for(alice).exists()  # an agent without the approver role

    approvals.decide(change, user=nina, decision=A)
    assert not approvals.pending_for(nina).exists()
    assert [s.name for s in approvals.pending_for(carol)] == ["CAB"]
    approvals.decide(change, user=carol, decision=A)
    assert not approvals.pending_for(carol).exists()  # decided; the stage awaits dave
    assert [s.change_id for s in approvals.pending_for(dave)] == [change.pk]
    assert other.pk not in [s.change_id for s in approvals.pending_for(maria)]


def test_pending_for_a_manager_lists_the_managers_stages(alice, carol, dave, cab, maria, submit):
    change = submit(alice, risk="very_high")
    assert not approvals.pending_for(maria).exists()
    approvals.decide(change, user=carol, decision=A)
    approvals.decide(change, user=dave, decision=A)
    assert [s.name for s in approvals.pending_for(maria)] == ["Manager sign-off"]
    other_manager = UserFactory(username="mike", roles=[MANAGER])
    assert [s.name for s in approvals.pending_for(other_manager)] == ["Manager sign-off"]
