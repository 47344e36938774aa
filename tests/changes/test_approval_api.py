"""``POST /api/v1/changes/{id}/approve/`` and ``/api/v1/changes/approval-policies/``: approving
and rejecting, segregation of duties (403), approving twice (409), bad decisions (400) — nothing
written when refused — and managers shaping the policies."""

import pytest

from accounts.models import Team
from changes.api.configuration import ApprovalPolicyViewSet
from changes.models import ApprovalPolicy, ChangeApproval, ChangeTimelineEntry
from changes.services import approvals
from changes.services import changes as change_services
from tests.api_testing import APIEndpointTests
from tests.changes.api_helpers import ready_change, submitted_change, url
from tests.conftest import token_client

pytestmark = pytest.mark.django_db


def approve(user, change, decision="approved", comment=""):
    return token_client(user).post(url(change, "approve"), {"decision": decision, "comment": comment}, format="json")


def decisions_and_lines():
    return ChangeApproval.objects.count(), ChangeTimelineEntry.objects.count()


def cab_pending_change(alice, maria, nina, network_team):
    """A normal change of high risk (maria's override) for the Network team: nina's technical
    review is approved, the CAB stage (two approvals) is pending."""
    change = ready_change(alice, network_team)
    change_services.override_risk(change, user=maria, level="high", reason="Touches the payment path.")
    change_services.transition(change, "assess", user=alice)
    change = change_services.transition(change, "authorize", user=alice)
    approvals.decide(change, user=nina, decision="approved")
    change.refresh_from_db()
    return change


# --- deciding ---------------------------------------------------------------------------------


def test_the_eligible_approver_approves_and_the_change_is_scheduled(alice, nina, network_team):
    change = submitted_change(alice, network_team)
    response = approve(nina, change, comment="Looks safe.")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["state"] == "scheduled"
    assert body["approval"]["approved_at"]
    stage = body["approval"]["stages"][0]
    assert (stage["state"], stage["approvals"]) == ("approved", 1)
    assert [(d["approver"]["username"], d["decision"], d["comment"]) for d in stage["decisions"]] == [
        ("nina", "approved", "Looks safe.")
    ]


def test_a_stage_needing_two_approvals_waits_for_the_second(alice, maria, nina, carol, dave, cab, network_team):
    change = cab_pending_change(alice, maria, nina, network_team)
    first = approve(carol, change).json()
    assert first["state"] == "authorize"
    assert [(s["name"], s["state"], s["approvals"]) for s in first["approval"]["stages"]] == [
        ("Technical review", "approved", 1),
        ("CAB", "pending", 1),
    ]
    second = approve(dave, change).json()
    assert second["state"] == "scheduled"


def test_a_rejection_needs_a_comment_and_sends_the_change_back_to_new(alice, nina, network_team):
    change = submitted_change(alice, network_team)
    before = decisions_and_lines()
    response = approve(nina, change, decision="rejected")
    assert response.status_code == 400
    assert "comment" in response.json()
    assert decisions_and_lines() == before
    response = approve(nina, change, decision="rejected", comment="The backout plan is missing a step.")
    assert response.status_code == 200
    assert response.json()["state"] == "new"
    assert response.json()["approval"]["stages"][0]["state"] == "rejected"


def test_an_unknown_decision_is_a_400_naming_the_decision(alice, nina, network_team):
    change = submitted_change(alice, network_team)
    response = approve(nina, change, decision="maybe")
    assert response.status_code == 400
    assert "decision" in response.json()


def test_approving_twice_is_a_409_and_writes_nothing(alice, maria, nina, carol, cab, network_team):
    change = cab_pending_change(alice, maria, nina, network_team)
    assert approve(carol, change).status_code == 200
    before = decisions_and_lines()
    response = approve(carol, change)
    assert response.status_code == 409
    assert "already" in response.json()["detail"]
    assert decisions_and_lines() == before


def test_an_agent_who_is_not_an_approver_is_refused_with_a_403(alice, plain_agent, network_team):
    network_team.members.add(plain_agent)
    change = submitted_change(alice, network_team)
    before = decisions_and_lines()
    response = approve(plain_agent, change)
    assert response.status_code == 403
    assert "Technical review" in response.json()["detail"]
    assert decisions_and_lines() == before


def test_an_approver_of_another_team_is_refused_with_a_403(alice, carol, cab, network_team):
    change = submitted_change(alice, network_team)
    response = approve(carol, change)
    assert response.status_code == 403
    assert "Network" in response.json()["detail"]


def test_nobody_approves_their_own_change(nina, alice, network_team):
    change = submitted_change(nina, network_team)
    before = decisions_and_lines()
    response = approve(nina, change)
    assert response.status_code == 403
    assert response.json()["detail"] == "You can't approve your own change."
    assert decisions_and_lines() == before


def test_the_assignee_cannot_approve_either(alice, nina, network_team):
    change = submitted_change(alice, network_team, assignee=nina)
    response = approve(nina, change)
    assert response.status_code == 403
    assert "assigned to you" in response.json()["detail"]


def test_a_viewer_and_a_read_only_token_cannot_decide(alice, victor, nina, network_team):
    change = submitted_change(alice, network_team)
    assert approve(victor, change).status_code == 403
    read_only = token_client(nina, write=False)
    response = read_only.post(url(change, "approve"), {"decision": "approved"}, format="json")
    assert response.status_code == 403
    assert ChangeApproval.objects.count() == 0


def test_deciding_a_change_not_awaiting_approval_is_a_409(alice, nina):
    from tests.factories import new_change

    change = new_change(alice)
    response = approve(nina, change)
    assert response.status_code == 409


# --- approval policies ------------------------------------------------------------------------


def _policy():
    n = ApprovalPolicy.objects.count() + 1
    return ApprovalPolicy.objects.create(name=f"Policy {n}", change_type="normal", risk_level="", active=False)


class TestApprovalPolicyAPI(APIEndpointTests):
    viewset = ApprovalPolicyViewSet
    url_name = "api:change-approval-policy"
    make_object = staticmethod(_policy)
    create_data = staticmethod(
        lambda: {
            "name": "Normal change, any risk",
            "change_type": "normal",
            "active": False,
            "stages": [
                {"name": "Peer review", "approver_kind": "assignment_team"},
                {"name": "CAB", "approver_kind": "team", "approver_team": "Change Advisory Board", "is_cab": True},
            ],
        }
    )
    update_data = {"description": "Used when no level-specific policy applies."}
    invalid_data = {"change_type": "minor"}


def test_a_policy_is_written_with_its_stages_in_order(maria):
    client = token_client(maria)
    response = client.post("/api/v1/changes/approval-policies/", TestApprovalPolicyAPI.create_data(), format="json")
    assert response.status_code == 201, response.content
    stages = response.json()["stages"]
    cab = Team.objects.get(name="Change Advisory Board")
    assert [(s["order"], s["name"], s["approver_team"], s["required_approvals"]) for s in stages] == [
        (1, "Peer review", None, 1),
        (2, "CAB", cab.pk, 1),
    ]
    policy_url = f"/api/v1/changes/approval-policies/{response.json()['id']}/"
    response = client.patch(policy_url, {"stages": [{"name": "Managers", "approver_kind": "managers"}]}, format="json")
    assert [s["name"] for s in response.json()["stages"]] == ["Managers"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "Twin", "change_type": "normal", "risk_level": "low"}, "risk_level"),
        ({"name": "Std", "change_type": "standard"}, "change_type"),
        ({"name": "No team", "change_type": "normal", "active": False, "stages": [{"name": "X"}]}, "stages"),
    ],
)
def test_bad_policies_are_a_400_naming_the_field(maria, payload, field):
    before = ApprovalPolicy.objects.count()
    response = token_client(maria).post("/api/v1/changes/approval-policies/", payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert ApprovalPolicy.objects.count() == before


def test_agents_and_approvers_cannot_edit_policies(alice, nina):
    policy = ApprovalPolicy.objects.get(name="Normal change, low risk")
    for user in (alice, nina):
        response = token_client(user).patch(
            f"/api/v1/changes/approval-policies/{policy.pk}/", {"active": False}, format="json"
        )
        assert response.status_code == 403
    policy.refresh_from_db()
    assert policy.active
